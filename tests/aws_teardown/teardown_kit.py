"""Builds a sagepipe deployment in moto's AWS: the stacks `sagepipe teardown` deletes, a versioned
artifact bucket with versions and delete markers, and an image repository with images.

The endpoint stacks are the real CloudFormation/endpoint.yaml with the real stage configurations.
The pipeline stack keeps pipeline.yaml's own bucket and repository resources (retained, as in AWS)
and outputs: moto cannot deploy the rest of pipeline.yaml (CodeBuild, CodePipeline). The API
stack (a SAM template built by `chalice package` in the pipeline) and the training stack (the
Step Functions workflow of workflows/templates/titanic_train.yaml) are one-resource stand-ins.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from cfnlint.decode import cfn_yaml
from moto import mock_aws

from sagepipe.teardown import Clients

REPO = Path(__file__).resolve().parents[2]
PROJECT = "sagepipe"
REGION = "us-east-1"
# moto warns about each resource type of endpoint.yaml it does not create (alarms, scaling).
IGNORE_MOTO_GAPS = "ignore:Tried to parse AWS::"


@dataclass(frozen=True)
class Content:
    """What the bucket and the repository hold: `keys` objects with `versions` versions each,
    delete markers on the first `delete_markers` keys, `images` images (the first with 2 tags)."""

    keys: int
    versions: int
    delete_markers: int
    images: int

    @property
    def object_entries(self) -> int:
        return self.keys * self.versions + self.delete_markers


SMALL = Content(keys=4, versions=2, delete_markers=2, images=3)
# More than one ListObjectVersions page and DeleteObjects batch (1000), and more than one
# BatchDeleteImage batch (100).
AT_SCALE = Content(keys=350, versions=3, delete_markers=50, images=101)


@dataclass(frozen=True)
class Deployed:
    session: boto3.Session
    bucket: str
    repository: str
    stacks: tuple[str, ...]  # in the order teardown must delete them
    content: Content

    def client(self, service: str) -> Any:
        return self.session.client(service)


class CallLog:
    """Every API call the clients make, as (operation name, parameters), in order."""

    def __init__(self, clients: Clients) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        for client in (clients.cloudformation, clients.s3, clients.ecr, clients.sts):
            client.meta.events.register("before-parameter-build", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, dict(params)))

    def named(self, *operations: str) -> list[tuple[str, dict[str, Any]]]:
        return [call for call in self.calls if call[0] in operations]


def _parameters(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def _as_moto_deletes(resource: dict[str, Any]) -> dict[str, Any]:
    """moto 5.2.5 knows `Retain` but not `RetainExceptOnCreate` (it deletes those resources with
    the stack); once a create has succeeded, AWS treats the two alike, so moto gets `Retain`."""
    if resource.get("DeletionPolicy") != "RetainExceptOnCreate":
        return resource
    return {**resource, "DeletionPolicy": "Retain"}


def pipeline_stand_in() -> str:
    template = cfn_yaml.load(str(REPO / "CodePipeline" / "pipeline.yaml"))
    return json.dumps({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {"ProjectName": template["Parameters"]["ProjectName"]},
        "Resources": {name: _as_moto_deletes(template["Resources"][name])
                      for name in ("ArtifactBucket", "ImageRepository", "BuildLogGroup")},
        "Outputs": {name: template["Outputs"][name]
                    for name in ("ArtifactBucketName", "ImageRepositoryUri")},
    })


def stand_in(log_group: str) -> str:
    return json.dumps({"Resources": {"Logs": {
        "Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": log_group}}}})


def deploy_endpoint(cf: Any, stage: str, role_arn: str, bucket: str, image_uri: str) -> str:
    config = json.loads((REPO / "CloudFormation" / "config" / f"{stage}.json").read_text())
    name = f"{PROJECT}-endpoint-{stage}"
    cf.create_stack(
        StackName=name, TemplateBody=(REPO / "CloudFormation" / "endpoint.yaml").read_text(),
        Parameters=_parameters({
            **config["Parameters"], "ProjectName": PROJECT, "ImageUri": image_uri,
            "ModelDataUrl": f"s3://{bucket}/{PROJECT}/abc123/models/model.tar.gz",
            "ExecutionRoleArn": role_arn,
            "DataCaptureS3Uri": f"s3://{bucket}/{PROJECT}/data-capture/{stage}"}),
        Tags=[{"Key": k, "Value": v} for k, v in config["Tags"].items()])
    return name


def fill_bucket(s3: Any, bucket: str, content: Content) -> None:
    # moto's CloudFormation ignores VersioningConfiguration; AWS applies pipeline.yaml's.
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for key in range(content.keys):
        for version in range(content.versions):
            s3.put_object(Bucket=bucket, Key=f"{PROJECT}/data/{key}.csv", Body=b"v%d" % version)
    for key in range(content.delete_markers):
        s3.delete_object(Bucket=bucket, Key=f"{PROJECT}/data/{key}.csv")


def fill_repository(ecr: Any, repository: str, content: Content) -> None:
    for image in range(content.images):
        layer = "sha256:" + hashlib.sha256(b"layer %d" % image).hexdigest()
        manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                       "size": 100, "digest": layer},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "size": 100, "digest": layer}]})
        ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag=f"commit{image}")
        if image == 0:  # a second tag on the same image: one digest, two tags
            ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag="release")


def deploy(content: Content) -> Iterator[Deployed]:
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        cf = session.client("cloudformation")
        cf.create_stack(StackName=f"{PROJECT}-pipeline", TemplateBody=pipeline_stand_in(),
                        Parameters=_parameters({"ProjectName": PROJECT}))
        outputs = {o["OutputKey"]: o["OutputValue"] for o in cf.describe_stacks(
            StackName=f"{PROJECT}-pipeline")["Stacks"][0]["Outputs"]}
        bucket, image_repo_uri = outputs["ArtifactBucketName"], outputs["ImageRepositoryUri"]
        role = session.client("iam").create_role(
            RoleName=f"{PROJECT}-sagemaker-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        fill_bucket(session.client("s3"), bucket, content)
        repository = image_repo_uri.split("/", 1)[1]
        fill_repository(session.client("ecr"), repository, content)
        qa = deploy_endpoint(cf, "qa", role, bucket, f"{image_repo_uri}:commit1")
        prod = deploy_endpoint(cf, "prod", role, bucket, f"{image_repo_uri}:commit1")
        cf.create_stack(StackName=f"{PROJECT}-training",
                        TemplateBody=stand_in(f"/aws/states/{PROJECT}-training-standin"))
        cf.create_stack(StackName=f"{PROJECT}-api",
                        TemplateBody=stand_in(f"/aws/lambda/{PROJECT}-api-APIHandler-standin"))
        cf.create_stack(StackName=f"{PROJECT}-batch-inference",
                        TemplateBody=stand_in(f"/aws/lambda/{PROJECT}-batch-inference-standin"))
        yield Deployed(session, bucket, repository,
                       (f"{PROJECT}-api", f"{PROJECT}-batch-inference", prod, qa,
                        f"{PROJECT}-training", f"{PROJECT}-pipeline"), content)
