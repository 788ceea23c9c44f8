"""Fixtures of the fuzz suite: a local AWS of its own for the protocol fuzzers (what they create,
such as buckets with generated names, stays out of the session's), and the example model's own
server started on the model that serving_kit's session fixtures train with real jobs (the
serving modules load those as the `serving_kit` plugin, which also gives the endpoint serving
that model, `model_endpoint`)."""

from __future__ import annotations

import io
import os
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from testkit import REPO, free_port

from sagepipe.clients import client
from sagepipe.config import Settings
from sagepipe.processes import start_and_wait, terminate
from sagepipe.s3.rules import parse_s3_uri
from sagepipe.server import start_background, stop


@pytest.fixture(scope="session")
def fuzz_aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = Settings(home=tmp_path_factory.mktemp("fuzz-home"), port=free_port())
    start_background(settings)
    yield settings
    stop(settings)


@pytest.fixture(scope="session")
def model_server(images: Settings, training: dict,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """`model/serve` on the trained model (its model.tar.gz unpacked), one worker, as SageMaker
    hosting starts it: an HTTP client for it."""
    root = tmp_path_factory.mktemp("model-server")
    bucket, key = parse_s3_uri(training["ModelDataUrl"])
    archive = client(images, "s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(root / "model", filter="data")
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/ping", timeout=1, trust_env=False).status_code == 200
        except httpx.TransportError:
            return False

    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent),
                                                  os.environ["PATH"]]),
           "SM_MODEL_DIR": str(root / "model"), "SAGEMAKER_BIND_TO_PORT": str(port),
           "MODEL_SERVER_HOST": "127.0.0.1", "SAGEMAKER_MODEL_SERVER_WORKERS": "1"}
    process = start_and_wait([str(REPO / "model" / "serve")], root / "serve.log", ready, 60,
                             grace=10, env=env, cwd=REPO / "model")
    with httpx.Client(base_url=url, timeout=60, trust_env=False) as http:
        yield http
    terminate(process, grace=10)
