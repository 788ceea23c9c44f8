"""Placeholders for values known when the workflow runs (the old SDK's `stepfunctions.inputs`)."""

from ds_stepfunctions.inputs.placeholders import (
    Array,
    ExecutionInput,
    Format,
    Intrinsic,
    Placeholder,
    Reference,
    StepInput,
    ValidationResult,
)

__all__ = ["Array", "ExecutionInput", "Format", "Intrinsic", "Placeholder", "Reference",
           "StepInput", "ValidationResult"]
