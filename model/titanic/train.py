"""The training job: a RandomForest on the prepared splits, compiled to ONNX for serving."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import orjson
from skl2onnx import to_onnx
from skl2onnx.common.data_types import DoubleTensorType
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, roc_auc_score

from titanic import hyperparameters
from titanic.dataset import Row, read_split
from titanic.job import JobFailure, run_job
from titanic.paths import (
    METADATA_FILE,
    MODEL_FILE,
    PREPROCESSOR_FILE,
    channel_dir,
    input_config_dir,
    model_dir,
    output_data_dir,
    output_dir,
    write_atomically,
)
from titanic.preprocessor import Preprocessor, PreprocessorError
from titanic.runtime import Predictor
from titanic.schema import FEATURES, FieldError

# ONNX Runtime and scikit-learn must agree this closely on every validation row.
CONVERSION_TOLERANCE = 1e-6


def _channel(name: str) -> Path:
    path = channel_dir(name)
    if not path.is_dir():
        raise JobFailure(f"missing channel '{name}': {path} does not exist; give the training "
                         f"job a '{name}' input channel (the '{name}' output of `prepare`)")
    return path


def load_inputs() -> tuple[list[Row], list[Row], Preprocessor]:
    """The train and validation rows and the preprocessor, checked against one another."""
    preprocessor_channel = _channel("preprocessor")
    train_dir, validation_dir = _channel("train"), _channel("validation")
    try:
        preprocessor = Preprocessor.load(preprocessor_channel / PREPROCESSOR_FILE)
    except PreprocessorError as error:
        raise JobFailure(f"channel 'preprocessor': {error}") from None
    splits = read_split(train_dir, "channel 'train'"), read_split(validation_dir,
                                                                   "channel 'validation'")
    for name, rows in zip(("train", "validation"), splits, strict=True):
        for row in rows:
            try:
                preprocessor.parse(*row.passenger)
            except FieldError as error:
                raise JobFailure(f"channel '{name}' line {row.line}: {error}; the preprocessor "
                                 "does not match this data (were both made by one `prepare`?)"
                                 ) from None
    return *splits, preprocessor


def fit_forest(rows: Sequence[Row], preprocessor: Preprocessor,
               settings: dict[str, int | None]) -> RandomForestClassifier:
    """The forest for `rows`; the same rows and settings always give the same forest."""
    features = preprocessor.transform([row.passenger for row in rows])
    forest = RandomForestClassifier(**settings, n_jobs=1)
    return forest.fit(features, [row.label for row in rows])


def compile_to_onnx(forest: RandomForestClassifier) -> bytes:
    """The forest as an ONNX TreeEnsemble taking doubles (ai.onnx.ml v3 keeps thresholds in
    double), outputting the label and both class probabilities."""
    model = to_onnx(forest, initial_types=[("features", DoubleTensorType([None, len(FEATURES)]))],
                    options={id(forest): {"zipmap": False}},
                    target_opset={"": 17, "ai.onnx.ml": 3})
    return model.SerializeToString()


def evaluate(forest: RandomForestClassifier, preprocessor: Preprocessor, train: Sequence[Row],
             validation: Sequence[Row]) -> tuple[dict[str, float], list[list[int]]]:
    """Metrics (train:accuracy, validation:accuracy/f1/auc) and the validation confusion
    matrix."""
    def split(rows: Sequence[Row]) -> tuple[np.ndarray, list[int]]:
        return preprocessor.transform([row.passenger for row in rows]), [r.label for r in rows]

    train_x, train_y = split(train)
    validation_x, validation_y = split(validation)
    predicted = forest.predict(validation_x)
    metrics = {
        "train:accuracy": accuracy_score(train_y, forest.predict(train_x)),
        "validation:accuracy": accuracy_score(validation_y, predicted),
        "validation:f1": f1_score(validation_y, predicted),
        "validation:auc": roc_auc_score(validation_y, forest.predict_proba(validation_x)[:, 1]),
    }
    matrix = confusion_matrix(validation_y, predicted, labels=[0, 1]).tolist()
    return {name: round(float(value), 6) for name, value in metrics.items()}, matrix


def check_conversion(predictor: Predictor, forest: RandomForestClassifier,
                     rows: Sequence[Row]) -> None:
    """Fail rather than ship an ONNX model that predicts differently from the forest."""
    passengers = [row.passenger for row in rows]
    labels, probabilities = predictor.predict(passengers)
    expected = forest.predict_proba(predictor.preprocessor.transform(passengers))
    gap = float(np.abs(np.asarray(probabilities) - expected[:, 1]).max())
    # A tie (probability 0.5 within the tolerance) may break either way in float32 ONNX.
    decided = np.abs(expected[:, 1] - 0.5) > CONVERSION_TOLERANCE
    disagree = (np.asarray(labels) != expected.argmax(axis=1)) & decided
    if disagree.any() or gap > CONVERSION_TOLERANCE:
        raise JobFailure(f"the ONNX model disagrees with scikit-learn on validation rows "
                         f"(probability gap {gap:.2e}); check the skl2onnx/onnxruntime pins")


def train() -> None:
    settings = hyperparameters.load(input_config_dir() / "hyperparameters.json")
    train_rows, validation_rows, preprocessor = load_inputs()
    print(f"train: {len(train_rows)} train rows, {len(validation_rows)} validation rows, "
          f"hyperparameters {settings}")
    forest = fit_forest(train_rows, preprocessor, settings)
    metrics, matrix = evaluate(forest, preprocessor, train_rows, validation_rows)
    for name, value in metrics.items():
        print(f"{name}={value:.4f};")
    model, preprocessor_json = compile_to_onnx(forest), preprocessor.to_json()
    version = os.environ.get("TRAINING_JOB_NAME") or (
        "sha256-" + hashlib.sha256(model + preprocessor_json).hexdigest()[:16])
    check_conversion(Predictor(model, preprocessor, version), forest, validation_rows)
    target = model_dir()
    write_atomically(target / MODEL_FILE, model)
    write_atomically(target / PREPROCESSOR_FILE, preprocessor_json)
    write_atomically(target / METADATA_FILE, orjson.dumps({
        "model_version": version, "features": FEATURES, "classes": [0, 1],
        "runtime": "onnxruntime", "hyperparameters": settings, "metrics": metrics,
        "rows": {"train": len(train_rows), "validation": len(validation_rows)},
    }, option=orjson.OPT_INDENT_2))
    write_atomically(output_data_dir() / "evaluation.json", orjson.dumps(
        {"metrics": metrics, "validation_confusion_matrix": {"labels": [0, 1], "rows": matrix}},
        option=orjson.OPT_INDENT_2))
    print(f"train: model {version} written to {target}")


def main() -> int:
    return run_job(train, output_dir() / "failure")
