"""The AWS Step Functions Data Science SDK's API, alive.

`import ds_stepfunctions as stepfunctions` runs code written for the old `stepfunctions` package
(2.3.0): the same modules and names, SageMaker requests given as boto3 dicts (or SageMaker SDK v3
objects) instead of SDK v2 objects, and pictures drawn offline. It is a client library: it writes
ASL and drives whatever boto3 `stepfunctions` client it is given.
"""

import logging

from ds_stepfunctions import inputs, steps, template, workflow

__version__ = "2.3.0.post1"
__all__ = ["inputs", "set_stream_logger", "steps", "template", "workflow"]


def set_stream_logger(level: int = logging.INFO) -> None:
    """Print this package's log records (the old SDK's notebooks call it first)."""
    logger = logging.getLogger("ds_stepfunctions")
    logger.setLevel(level)
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
        logger.addHandler(handler)
