"""Where SageMaker puts things: the `/opt/ml` layout, overridable by the training toolkit's
`SM_*` variables (set by SageMaker's toolkit, by the local AWS, and by tests)."""

from __future__ import annotations

import os
from pathlib import Path

ML_ROOT = Path("/opt/ml")
PROCESSING_INPUT = ML_ROOT / "processing/input/raw"
PROCESSING_PREPROCESSOR = ML_ROOT / "processing/input/preprocessor"
PROCESSING_KEPT = ML_ROOT / "processing/input/kept"
PROCESSING_TRANSFORMED = ML_ROOT / "processing/input/transformed"
PROCESSING_OUTPUT = ML_ROOT / "processing/output"

MODEL_FILE = "model.onnx"
PREPROCESSOR_FILE = "preprocessor.json"
METADATA_FILE = "metadata.json"


def _from_env(variable: str, default: Path) -> Path:
    value = os.environ.get(variable)
    return Path(value) if value else default


def model_dir() -> Path:
    return _from_env("SM_MODEL_DIR", ML_ROOT / "model")


def output_dir() -> Path:
    """Where a failed job leaves its reason (`failure` for training, `message` for processing)."""
    return _from_env("SM_OUTPUT_DIR", ML_ROOT / "output")


def output_data_dir() -> Path:
    return _from_env("SM_OUTPUT_DATA_DIR", output_dir() / "data")


def input_config_dir() -> Path:
    return _from_env("SM_INPUT_CONFIG_DIR", ML_ROOT / "input/config")


def channel_dir(name: str) -> Path:
    """A training channel: SM_CHANNEL_<NAME>, else <SM_INPUT_DATA_DIR>/<name>."""
    data_dir = _from_env("SM_INPUT_DATA_DIR", ML_ROOT / "input/data")
    return _from_env(f"SM_CHANNEL_{name.upper()}", data_dir / name)


def write_atomically(path: Path, data: bytes) -> None:
    """Write `path` so that readers see the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    partial.replace(path)
