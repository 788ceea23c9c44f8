"""The SageMaker Python SDK v3 with its defaults against the local AWS, run in the SDK's own
venv (ci/checkers.sh sagemaker) by test_sagemaker_sdk.py: the environment names the local AWS
(AWS_ENDPOINT_URL and credentials, as `sagepipe env` prints them) and nothing else.

    python v3_lifecycle.py IMAGE_URI ROLE_ARN RESULT_JSON

ModelTrainer(...).train() with its default wait and logs, then ModelBuilder(model=trainer)
.build() and .deploy() with its default wait, one invocation, and the endpoint deleted. Writes
what each step returned to RESULT_JSON (the SDK's progress display owns the terminal).
"""

import json
import sys
from pathlib import Path

from sagemaker.core.helper.session_helper import Session
from sagemaker.serve import ModelBuilder
from sagemaker.train import ModelTrainer
from sagemaker.train.configs import Compute, InputData

image, role, result = sys.argv[1:4]
session = Session()
bucket = session.default_bucket()
data = session.upload_string_as_file_body("1000,2\n3000,4\n", bucket, "sdk/train/data.csv")

trainer = ModelTrainer(training_image=image, role=role, base_job_name="sdk-v3",
                       compute=Compute(instance_type="ml.m5.large", instance_count=1),
                       input_data_config=[InputData(channel_name="training",
                                                    data_source=f"s3://{bucket}/sdk/train/")])
trainer.train()
job = trainer._latest_training_job

builder = ModelBuilder(model=trainer, image_uri=image, role_arn=role,
                       instance_type="ml.m5.large")
model = builder.build()
endpoint = builder.deploy(initial_instance_count=1)
answer = endpoint.invoke(body="1,1\n2,1000\n", content_type="text/csv")
body = answer.body.read().decode()
endpoint.delete()
Path(result).write_text(json.dumps({
    "training_job": job.training_job_name, "status": job.training_job_status,
    "model": model.model_name, "endpoint": endpoint.endpoint_name, "answer": body}))
