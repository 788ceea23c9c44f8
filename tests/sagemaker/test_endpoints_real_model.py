"""The example model (`model/`, registered by the session fixture) trained by its own entry points
and served by a local endpoint, invoked through boto3 like the API in front of it will."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from endpoint_kit import Deployer
from testkit import MODEL_IMAGE_URI, unique


def test_example_model_serves_predictions(aws, model_archive):
    sm, s3, runtime = aws("sagemaker"), aws("s3"), aws("sagemaker-runtime")
    deployer = Deployer(sm, s3)
    key = f"{unique('titanic')}/model.tar.gz"
    s3.upload_file(str(model_archive), "endpoint-models", key)
    model = unique("titanic")
    sm.create_model(ModelName=model, ExecutionRoleArn="arn:aws:iam::000000000000:role/x",
                    PrimaryContainer={"Image": MODEL_IMAGE_URI,
                                      "ModelDataUrl": f"s3://endpoint-models/{key}",
                                      "Environment": {"SAGEMAKER_MODEL_SERVER_WORKERS": "1"}})
    endpoint = deployer.endpoint(deployer.config(("AllTraffic", model, 1.0)))

    csv = runtime.invoke_endpoint(EndpointName=endpoint, Body=b"1,female,29\n3,male,\n",
                                  ContentType="text/csv", Accept="text/csv")
    rows = [line.split(",") for line in csv["Body"].read().decode().splitlines()]
    assert len(rows) == 2
    for label, probability in rows:
        assert label in ("0", "1") and 0 <= float(probability) <= 1

    reply = runtime.invoke_endpoint(
        EndpointName=endpoint, ContentType="application/json", Accept="application/json",
        Body=json.dumps({"instances": [{"Pclass": 1, "Sex": "female", "Age": 29}]}))
    answer = json.loads(reply["Body"].read())
    assert [p["survived"] for p in answer["predictions"]] == [int(rows[0][0])]
    assert answer["model_version"]

    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(EndpointName=endpoint, Body=b"1,robot,29\n",
                                ContentType="text/csv")
    assert caught.value.response["Error"]["Code"] == "ModelError"
    assert caught.value.response["OriginalStatusCode"] == 400
    deployer.delete(endpoint)
