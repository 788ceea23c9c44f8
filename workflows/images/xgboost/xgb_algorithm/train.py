"""The training job: XGBoost on the `train` channel, evaluated on `validation` if given.

Each round prints one line as the built-in algorithm's log shows it in CloudWatch,
`[N]#011train-rmse:...#011validation-rmse:...` (#011 is the tab, as syslog escapes it), so the
metric definitions written for the built-in (`.*\\[[0-9]+\\].*#011validation-rmse:(\\S+)`)
find the same values here, locally and in AWS.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import orjson
import xgboost
from scipy import sparse

from xgb_algorithm import hyperparameters
from xgb_algorithm.formats import CSV, LIBSVM, DataError, Table, parse_csv, parse_libsvm
from xgb_algorithm.job import JobFailure, run_job
from xgb_algorithm.paths import (
    MODEL_FILE,
    channel_dir,
    input_config_dir,
    model_dir,
    output_dir,
    write_atomically,
)

CHANNELS = ("train", "validation")
CONTENT_TYPES = {"csv": CSV, "text/csv": CSV, "libsvm": LIBSVM, "text/libsvm": LIBSVM,
                 "text/x-libsvm": LIBSVM}


def content_type(name: str, config: dict[str, dict]) -> str:
    """A channel's format from inputdataconfig.json; libsvm when none is given, as the
    built-in algorithm assumes."""
    given = str(config.get(name, {}).get("ContentType") or "libsvm")
    media, _, parameters = (part.strip() for part in given.lower().partition(";"))
    if media not in CONTENT_TYPES or parameters not in ("", "label_size=1"):
        raise JobFailure(f"channel '{name}': ContentType {given!r} is not supported; use "
                         "text/csv (label in the first column, no header) or text/libsvm")
    return CONTENT_TYPES[media]


def data_files(name: str) -> list[Path]:
    directory = channel_dir(name)
    files = sorted(path for path in directory.rglob("*") if path.is_file()
                   and not path.name.startswith((".", "_")))
    if not files:
        raise JobFailure(f"channel '{name}': no data files in {directory}")
    return files


def read_channel(name: str, media: str, csv_weights: bool) -> Table:
    """Every file of a channel, parsed and stacked; a bad file fails the job naming it."""
    tables = []
    for path in data_files(name):
        try:
            body = path.read_bytes()
            tables.append(parse_csv(body, label=True, weights=csv_weights) if media == CSV
                          else parse_libsvm(body, label=True))
        except DataError as error:
            hint = (" (CSV channels have no header row; the label is the first column)"
                    if media == CSV else "")
            raise JobFailure(f"channel '{name}' file {path.name}: {error}{hint}") from None
    return stack(name, tables)


def stack(name: str, tables: list[Table]) -> Table:
    width = max(table.width for table in tables)
    if any(isinstance(table.features, np.ndarray) and table.width != width for table in tables):
        raise JobFailure(f"channel '{name}': its CSV files have different numbers of columns")
    features = (np.vstack([table.features for table in tables])
                if isinstance(tables[0].features, np.ndarray)
                else sparse.vstack([widen(table.features, width) for table in tables], "csr"))
    weights = [table.weights for table in tables if table.weights is not None]
    return Table(features, np.concatenate([table.labels for table in tables]),
                 np.concatenate(weights) if weights else None)


def widen(features: sparse.csr_matrix, width: int) -> sparse.csr_matrix:
    features.resize((features.shape[0], width))
    return features


def matrix(table: Table, width: int) -> xgboost.DMatrix:
    features = table.features
    if isinstance(features, sparse.csr_matrix):
        features = widen(features, width)
    return xgboost.DMatrix(features, label=table.labels, weight=table.weights,
                           missing=np.nan)


class PrintEvaluation(xgboost.callback.TrainingCallback):
    """`[N]#011train-rmse:9.40474#011validation-rmse:9.38413` after each round."""

    def after_iteration(self, model: xgboost.Booster, epoch: int,
                        evals_log: xgboost.callback.TrainingCallback.EvalsLog) -> bool:
        scores = "".join(f"#011{data}-{metric}:{log[-1]:.5f}"
                         for data, metrics in evals_log.items() for metric, log in metrics.items())
        print(f"[{epoch}]{scores}", flush=True)
        return False


def load_config() -> tuple[hyperparameters.Hyperparameters, dict[str, dict]]:
    config = input_config_dir()
    settings = hyperparameters.load(config / "hyperparameters.json")
    data_config_file = config / "inputdataconfig.json"
    try:
        data_config = orjson.loads(data_config_file.read_bytes()) if data_config_file.exists() \
            else {}
    except orjson.JSONDecodeError as error:
        raise JobFailure(f"{data_config_file} is not valid JSON: {error}") from None
    return settings, data_config if isinstance(data_config, dict) else {}


def train() -> None:
    settings, data_config = load_config()
    unknown = sorted(set(data_config) - set(CHANNELS))
    if unknown:
        raise JobFailure(f"unknown channel(s) {', '.join(unknown)}: the algorithm reads "
                         "'train' and, optionally, 'validation'")
    if not channel_dir("train").is_dir():
        raise JobFailure("missing channel 'train': give the training job a 'train' input "
                         f"channel ({channel_dir('train')} does not exist)")
    names = [name for name in CHANNELS if channel_dir(name).is_dir()]
    media = {name: content_type(name, data_config) for name in names}
    if len(set(media.values())) > 1:
        raise JobFailure("channels 'train' and 'validation' must have the same ContentType")
    tables = {name: read_channel(name, media[name], settings.csv_weights) for name in names}
    width = max(table.width for table in tables.values())
    if media["train"] == CSV and any(table.width != width for table in tables.values()):
        raise JobFailure(f"channel 'validation' has {tables['validation'].width} feature "
                         f"columns, 'train' has {tables['train'].width}")
    if settings.early_stopping_rounds and "validation" not in tables:
        raise JobFailure("early_stopping_rounds needs a 'validation' channel to watch")
    matrices = {name: matrix(table, width) for name, table in tables.items()}
    callbacks: list[xgboost.callback.TrainingCallback] = [PrintEvaluation()]
    if settings.early_stopping_rounds:
        callbacks.append(xgboost.callback.EarlyStopping(
            rounds=settings.early_stopping_rounds, data_name="validation", save_best=True))
    print(f"train: {matrices['train'].num_row()} rows of {width} features"
          + (f", validation: {matrices['validation'].num_row()} rows"
             if "validation" in matrices else ""), flush=True)
    try:
        booster = xgboost.train(settings.booster, matrices["train"], settings.num_round,
                                evals=list((m, name) for name, m in matrices.items()),
                                callbacks=callbacks, verbose_eval=False)
    except xgboost.core.XGBoostError as error:
        reason = str(error).split("\n", 1)[0]
        raise JobFailure(f"XGBoost refused the data or hyperparameters: "
                         f"{reason.split(': ', 1)[-1]}") from None
    write_atomically(model_dir() / MODEL_FILE, bytes(booster.save_raw("ubj")))
    print(f"train: saved {model_dir() / MODEL_FILE}", flush=True)


def main() -> int:
    return run_job(train, output_dir() / "failure")


if __name__ == "__main__":
    sys.exit(main())
