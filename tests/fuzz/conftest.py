"""Fixtures of the fuzz suite: a local AWS of its own for the protocol fuzzers (what they create,
such as buckets with generated names, stays out of the session's), and the example model behind
an endpoint of the session's local AWS. The model comes from tests/model's fixtures (prepared,
trained and served once per session), loaded by the modules that need them as the
`model_fixtures` plugin, as tests/model's own modules do; that folder is put on the import path
for it."""

from __future__ import annotations

import io
import sys
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from testkit import MODEL_IMAGE_URI, free_port

from sagepipe.clients import client
from sagepipe.config import Settings
from sagepipe.server import start_background, stop

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "model"))


@pytest.fixture(scope="session")
def fuzz_aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = Settings(home=tmp_path_factory.mktemp("fuzz-home"), port=free_port())
    start_background(settings)
    yield settings
    stop(settings)


@pytest.fixture(scope="session")
def endpoint(local_aws, trained) -> str:
    """The trained example model behind an InService endpoint of the session's local AWS."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for item in sorted(trained.model_dir.iterdir()):
            tar.add(item, arcname=item.name)
    s3, sm = client(local_aws, "s3"), client(local_aws, "sagemaker")
    name = f"fuzz-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="model.tar.gz", Body=archive.getvalue())
    sm.create_model(ModelName=name, ExecutionRoleArn="arn:aws:iam::000000000000:role/fuzz",
                    PrimaryContainer={"Image": MODEL_IMAGE_URI,
                                      "ModelDataUrl": f"s3://{name}/model.tar.gz",
                                      "Environment": {"SAGEMAKER_MODEL_SERVER_WORKERS": "1"}})
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name,
                                              WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    yield name
    sm.delete_endpoint(EndpointName=name)
