"""Ready-made workflows (the old SDK's `stepfunctions.template`)."""

from ds_stepfunctions.template.pipeline import TrainingPipeline

__all__ = ["TrainingPipeline"]
