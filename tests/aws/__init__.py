"""The AWS path offline: the endpoint stack on moto, and the boto3 calls of the training script,
the API and the QA tests checked parameter for parameter by botocore's Stubber."""
