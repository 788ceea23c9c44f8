"""The trained model as served: the ONNX forest under ONNX Runtime plus its preprocessor.

ONNX Runtime predicts one row in ~5 us where scikit-learn's forest takes ~3 ms, with the same
trees (see `Preprocessor.transform` for why the branches match exactly).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime
import orjson

from titanic.paths import METADATA_FILE, MODEL_FILE, PREPROCESSOR_FILE
from titanic.preprocessor import Preprocessor, PreprocessorError
from titanic.schema import Passenger


class ModelError(RuntimeError):
    """A model directory that cannot be served; the message says which file and why."""


def _session(model: bytes) -> onnxruntime.InferenceSession:
    # One thread per process: the server runs one process per core.
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


class Predictor:
    def __init__(self, model: bytes, preprocessor: Preprocessor, version: str) -> None:
        try:
            self.session = _session(model)
        except Exception as error:  # ONNX Runtime raises one class per status code
            raise ModelError(f"not a loadable ONNX model: {error}") from None
        self.input_name = self.session.get_inputs()[0].name
        self.preprocessor = preprocessor
        self.version = version

    @classmethod
    def load(cls, model_dir: Path) -> Predictor:
        try:
            metadata = orjson.loads((model_dir / METADATA_FILE).read_bytes())
            model = (model_dir / MODEL_FILE).read_bytes()
            preprocessor = Preprocessor.load(model_dir / PREPROCESSOR_FILE)
            return cls(model, preprocessor, str(metadata["model_version"]))
        except OSError as error:
            raise ModelError(f"cannot read the model in {model_dir}: {error.strerror}: "
                             f"{error.filename} (is it the output of `train`?)") from None
        except (orjson.JSONDecodeError, KeyError, TypeError) as error:
            raise ModelError(f"{model_dir / METADATA_FILE} has no model_version: {error}") from None
        except PreprocessorError as error:
            raise ModelError(str(error)) from None
        except ModelError as error:
            raise ModelError(f"{model_dir / MODEL_FILE}: {error}") from None

    def predict(self, passengers: Sequence[Passenger]) -> tuple[list[int], list[float]]:
        """Survival labels and probabilities, as the scikit-learn forest computes them."""
        features = self.preprocessor.transform(passengers)
        labels, probabilities = self.session.run(None, {self.input_name: features})
        # The runtime's probabilities are float32: pass them on as the shortest decimals that
        # round-trip in float32 (0.99, not 0.9900000095367432); orjson writes exactly those.
        survival = orjson.dumps(np.ascontiguousarray(probabilities[:, 1]),
                                option=orjson.OPT_SERIALIZE_NUMPY)
        return labels.tolist(), orjson.loads(survival)
