"""What SageMaker answers for resources that do not exist, as AWS answers it (issue 11).

botocore's model declares `ResourceNotFound` for DescribeTrainingJob and the other Describe*Job
calls, but SageMaker sends a ValidationException "Requested resource not found.", and code
written against AWS catches that. Sources, per row of the table:

- jobs: aws/aws-sdk#165 and boto/boto3#2808 ("describe_training_job ... occurs
  ValidationException instead of ResourceNotFound for not existing resource", acknowledged by
  the SDK team as the service's behaviour); aws/amazon-sagemaker-examples#2360 (the exact
  text: "An error occurred (ValidationException) when calling the DescribeTrainingJob
  operation: Requested resource not found."); public botocore-Stubber tests of SageMaker
  clients use the same code and message for StopTrainingJob. Processing and transform jobs
  share the job APIs' convention (botocore declares the same ResourceNotFound for them).
- models: aws/deep-learning-containers#586 quotes SageMaker's `Could not find model
  "arn:aws:sagemaker:us-west-2:<account-id>:model/..."`.
- endpoints and endpoint configurations: public tests and notebooks quote "An error occurred
  (ValidationException) when calling the DescribeEndpoint operation: Could not find endpoint
  \\"arn:aws:sagemaker:us-west-2:...:endpoint/test-endpoint\\"." and "... DescribeEndpointConfig
  operation: Could not find endpoint configuration \\"arn:aws:sagemaker:...\\"."; the same for
  DeleteEndpoint in amazon-sagemaker-examples' random cut forest notebook output.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

ARN = "arn:aws:sagemaker:us-east-1:000000000000"
NOT_FOUND = ("ValidationException", "Requested resource not found.")


@pytest.mark.parametrize(("operation", "params", "expected"), [
    ("describe_training_job", {"TrainingJobName": "no-such-job"}, NOT_FOUND),
    ("stop_training_job", {"TrainingJobName": "no-such-job"}, NOT_FOUND),
    ("describe_processing_job", {"ProcessingJobName": "no-such-job"}, NOT_FOUND),
    ("stop_processing_job", {"ProcessingJobName": "no-such-job"}, NOT_FOUND),
    ("describe_transform_job", {"TransformJobName": "no-such-job"}, NOT_FOUND),
    ("stop_transform_job", {"TransformJobName": "no-such-job"}, NOT_FOUND),
    ("describe_model", {"ModelName": "no-such-model"},
     ("ValidationException", f'Could not find model "{ARN}:model/no-such-model".')),
    ("delete_model", {"ModelName": "no-such-model"},
     ("ValidationException", f'Could not find model "{ARN}:model/no-such-model".')),
    ("describe_endpoint_config", {"EndpointConfigName": "no-such-config"},
     ("ValidationException",
      f'Could not find endpoint configuration "{ARN}:endpoint-config/no-such-config".')),
    ("describe_endpoint", {"EndpointName": "no-such-endpoint"},
     ("ValidationException", f'Could not find endpoint "{ARN}:endpoint/no-such-endpoint".')),
    ("delete_endpoint", {"EndpointName": "no-such-endpoint"},
     ("ValidationException", f'Could not find endpoint "{ARN}:endpoint/no-such-endpoint".')),
    # Names are ARNs' last part in lower case, as SageMaker writes them.
    ("describe_model", {"ModelName": "No-Such-Model"},
     ("ValidationException", f'Could not find model "{ARN}:model/no-such-model".')),
])
def test_missing_resources_answer_as_aws(aws, operation, params, expected):
    with pytest.raises(ClientError) as caught:
        getattr(aws("sagemaker"), operation)(**params)
    error = caught.value.response["Error"]
    assert (error["Code"], error["Message"]) == expected
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
