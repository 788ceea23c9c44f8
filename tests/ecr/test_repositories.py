"""Local ECR repositories through boto3: created, described, their images (what was pushed
under the repository's URI), and deleted: refused while images remain unless forced, as in
AWS; unknown repositories answer ECR's errors."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError
from testkit import REPO

from sagepipe.clients import internal

REGISTRY = "000000000000.dkr.ecr.us-east-1.amazonaws.com"


def refused(call, code: str) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["Error"]["Code"] == code
    return caught.value.response["Error"]["Message"]


def test_a_repository_lists_the_images_pushed_under_its_uri(aws, local_aws):
    ecr, name = aws("ecr"), f"repo-{uuid.uuid4().hex[:8]}"
    created = ecr.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE",
                                    imageScanningConfiguration={"scanOnPush": True})[
        "repository"]
    assert created["repositoryUri"] == f"{REGISTRY}/{name}"
    assert created["repositoryArn"] == f"arn:aws:ecr:us-east-1:000000000000:repository/{name}"
    assert refused(lambda: ecr.create_repository(repositoryName=name),
                   "RepositoryAlreadyExistsException") == (
        f"The repository with name '{name}' already exists in the registry with id "
        "'000000000000'")
    (described,) = ecr.describe_repositories(repositoryNames=[name])["repositories"]
    assert described["imageTagMutability"] == "IMMUTABLE"
    assert ecr.describe_images(repositoryName=name)["imageDetails"] == []

    for tag in ("commit1", "commit2"):
        internal(local_aws, "PUT", "images", {"uri": f"{REGISTRY}/{name}:{tag}",
                                              "directory": str(REPO / "model")})
    tags = [d["imageTags"] for d in ecr.describe_images(repositoryName=name)["imageDetails"]]
    assert sorted(tags) == [["commit1"], ["commit2"]]
    assert ecr.describe_images(repositoryName=name, imageIds=[{"imageTag": "commit2"}])[
        "imageDetails"][0]["imageTags"] == ["commit2"]
    assert sorted(i["imageTag"] for i in ecr.list_images(repositoryName=name)["imageIds"]) == [
        "commit1", "commit2"]
    refused(lambda: ecr.describe_images(repositoryName=name, imageIds=[{"imageTag": "nope"}]),
            "ImageNotFoundException")

    assert refused(lambda: ecr.delete_repository(repositoryName=name),
                   "RepositoryNotEmptyException") == (
        f"The repository with name '{name}' in registry with id '000000000000' cannot be "
        "deleted because it still contains images")
    ecr.delete_repository(repositoryName=name, force=True)
    assert refused(lambda: ecr.describe_repositories(repositoryNames=[name]),
                   "RepositoryNotFoundException") == (
        f"The repository with name '{name}' does not exist in the registry with id "
        "'000000000000'")
    assert refused(lambda: ecr.describe_images(repositoryName=name),
                   "RepositoryNotFoundException")  # its images went with it
    assert f"{REGISTRY}/{name}:commit1" not in [
        i["uri"] for i in internal(local_aws, "GET", "images")]


def test_repository_names_are_checked_against_the_model(aws):
    message = refused(lambda: aws("ecr").create_repository(repositoryName="Upper_Case"),
                      "ValidationException")
    assert message.startswith("Value 'Upper_Case' at 'repositoryName' failed to satisfy "
                              "constraint: Member must satisfy regular expression pattern")
