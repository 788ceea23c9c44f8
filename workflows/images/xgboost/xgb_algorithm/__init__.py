"""XGBoost behind the contract of SageMaker's built-in XGBoost algorithm.

`train` reads hyperparameters as strings, the `train` (and optional `validation`) channel in
`text/csv` (label first, no header) or `text/libsvm`, prints the evaluation lines SageMaker's
metric definitions parse, and saves `xgboost-model`; `serve` answers `/ping` and
`/invocations` (`text/csv` rows without the label, or `text/libsvm`) as the built-in does.
"""
