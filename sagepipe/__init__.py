"""sagepipe: a local AWS (S3, SageMaker, SageMaker Runtime) and a local CodePipeline executor."""

__version__ = "0.1.0"
