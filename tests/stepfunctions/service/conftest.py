"""A Step Functions client of the session's local AWS, and the Titanic data prepared once by
the model's own `prepare` (through the served Step Functions) for the tests that train."""

from __future__ import annotations

import sys

import pytest
from service_kit import prepare
from testkit import REPO, client_for, unique

sys.path.insert(0, str(REPO / "CodePipeline" / "scripts"))
from default_data import export_titanic  # the pipeline's own default data


@pytest.fixture
def sfn(aws):
    return aws("stepfunctions")


@pytest.fixture(scope="session")
def prepared(local_aws, tmp_path_factory) -> str:
    """A bucket with the prepared Titanic splits under `prepared/`."""
    s3, bucket = client_for(local_aws, "s3"), unique("sfn-svc")
    s3.create_bucket(Bucket=bucket)
    s3.upload_file(str(export_titanic(tmp_path_factory.mktemp("data") / "titanic.csv")), bucket,
                   "raw/titanic.csv")
    prepare(client_for(local_aws, "stepfunctions"), bucket)
    return bucket
