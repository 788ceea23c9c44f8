"""The retail workflow: Lambda data preparation -> Training -> Save model -> Lambda metric check
-> a numeric RMSE gate -> batch inference, or Fail with the metric and the threshold.

`workflow.py` builds it, `data.py` generates the Online Retail rows it trains on, and the
functions' code is in workflows/lambdas/. Run it with `python -m workflows.retail`.
"""
