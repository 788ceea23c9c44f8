"""Local SageMaker Runtime: InvokeEndpoint over the REST-JSON protocol of `sagemaker-runtime`."""
