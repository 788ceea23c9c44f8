"""Tear a sagepipe deployment out of an AWS account: what `sagepipe teardown` runs.

The order is forced by how the pieces depend on each other:

1. the stacks the pipeline deployed: `<P>-api` and `<P>-batch-inference` (they call the prod
   endpoint), then `<P>-endpoint-prod`, `<P>-endpoint-qa` and `<P>-training`. They were
   deployed with the pipeline stack's CloudFormation role, which CloudFormation also deletes
   them with, so they must go while the pipeline stack (and that role) still exists (the
   batch-inference stack's buckets outlive it, as its template says: delete them by hand);
2. the artifact bucket and the image repository: `DeletionPolicy: Retain` in pipeline.yaml, so
   deleting the pipeline stack leaves them behind. The bucket is versioned: every version and
   delete marker goes before the bucket can;
3. the pipeline stack itself.

Only boto3 with the default credential chain and region, so `AWS_PROFILE`,
`AWS_DEFAULT_REGION` and `AWS_ENDPOINT_URL` apply as for the AWS CLI. Every step tolerates what
a previous, interrupted teardown already removed, so running it again finishes the job.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    WaiterError,
)
from botocore.parsers import ResponseParserError

S3_DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys
ECR_DELETE_BATCH = 100  # BatchDeleteImage takes at most 100 image ids
Log = Callable[[str], None]
T = TypeVar("T")


class TeardownError(RuntimeError):
    """Teardown stopped; the message says what is left and why."""


@dataclass(frozen=True)
class Deployment:
    """The names of one deployment, as pipeline.yaml and the pipeline's actions derive them."""

    project: str
    pipeline_stack: str

    @property
    def app_stacks(self) -> tuple[str, ...]:
        """The stacks the pipeline deployed, in the order they must be deleted."""
        return (f"{self.project}-api", f"{self.project}-batch-inference",
                f"{self.project}-endpoint-prod", f"{self.project}-endpoint-qa",
                f"{self.project}-training")

    def bucket(self, account: str, region: str) -> str:
        return f"{self.project}-artifacts-{account}-{region}"

    @property
    def repository(self) -> str:
        return f"{self.project}-model"


@dataclass(frozen=True)
class Clients:
    cloudformation: Any
    s3: Any
    ecr: Any
    sts: Any
    region: str

    @classmethod
    def from_session(cls, session: boto3.Session | None = None) -> Clients:
        session = session or boto3.Session()
        if not session.region_name:
            raise TeardownError("no AWS region configured: set AWS_DEFAULT_REGION,"
                                " pass --region, or set `region` in the profile's config")
        make = session.client
        return cls(make("cloudformation"), make("s3"), make("ecr"), make("sts"),
                   session.region_name)


@dataclass(frozen=True)
class Plan:
    """What a teardown deletes, resolved against the account before anything is deleted."""

    app_stacks: tuple[str, ...]
    bucket: str
    repository: str
    pipeline_stack: str

    def steps(self) -> list[str]:
        """What `run` deletes, in its order, for people to read before confirming."""
        return [*(f"stack {name}" for name in self.app_stacks),
                f"bucket {self.bucket}, with every object version (data, models, captured data)",
                f"repository {self.repository}, with every image",
                f"stack {self.pipeline_stack}"]


def batched(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def describe_stack(cf: Any, name: str) -> dict[str, Any] | None:
    """The live stack named `name`, or None when there is none."""
    try:
        return cf.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as exc:
        if _error_code(exc) == "ValidationError" and "does not exist" in str(exc):
            return None
        raise


def resolve(deployment: Deployment, clients: Clients) -> Plan:
    """Name the bucket and repository: from the pipeline stack's outputs while it exists (and
    check it belongs to this project), else as pipeline.yaml names them."""
    stack = describe_stack(clients.cloudformation, deployment.pipeline_stack)
    if stack is None:
        account = clients.sts.get_caller_identity()["Account"]
        bucket, repository = deployment.bucket(account, clients.region), deployment.repository
    else:
        parameters = {p["ParameterKey"]: p.get("ParameterValue")
                      for p in stack.get("Parameters", [])}
        owner = parameters.get("ProjectName")
        if owner != deployment.project:
            raise TeardownError(
                f"stack {deployment.pipeline_stack} was created with ProjectName={owner}, not "
                f"{deployment.project}: pass --project {owner} (nothing was deleted)")
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        # A stack whose creation rolled back has no outputs, but may have left the retained
        # bucket behind: fall back to the template's names (the account is in the stack id).
        bucket = outputs.get("ArtifactBucketName") or deployment.bucket(
            stack["StackId"].split(":")[4], clients.region)
        uri = outputs.get("ImageRepositoryUri")
        repository = uri.split("/", 1)[1] if uri else deployment.repository
    return Plan(deployment.app_stacks, bucket, repository, deployment.pipeline_stack)


def delete_failure_reasons(cf: Any, stack_id: str) -> list[str]:
    """`Resource (Type): reason` for each resource that failed in the latest delete attempt."""
    reasons: list[str] = []
    stack_reason = None
    for page in cf.get_paginator("describe_stack_events").paginate(StackName=stack_id):
        for event in page["StackEvents"]:  # newest first
            own = event["ResourceType"] == "AWS::CloudFormation::Stack" \
                and event.get("PhysicalResourceId") == stack_id
            status, reason = event["ResourceStatus"], event.get("ResourceStatusReason", "")
            if own and status == "DELETE_IN_PROGRESS":
                return reasons or ([stack_reason] if stack_reason else [])
            if status == "DELETE_FAILED":
                if own:
                    stack_reason = stack_reason or reason
                else:
                    reasons.append(f"{event['LogicalResourceId']} ({event['ResourceType']}): "
                                   f"{reason}")
    return reasons or ([stack_reason] if stack_reason else [])


def delete_stack(cf: Any, name: str, log: Log) -> None:
    """Delete the stack and wait until it is gone; on DELETE_FAILED, say which resources and why."""
    stack = describe_stack(cf, name)
    if stack is None:
        log(f"stack {name}: not found, nothing to delete")
        return
    stack_id = stack["StackId"]
    log(f"stack {name}: deleting (was {stack['StackStatus']})")
    cf.delete_stack(StackName=stack_id)
    try:
        cf.get_waiter("stack_delete_complete").wait(StackName=stack_id)
    except WaiterError as exc:
        stacks = (exc.last_response or {}).get("Stacks") or [{}]
        status = stacks[0].get("StackStatus", "unknown")
        if status != "DELETE_FAILED":
            raise TeardownError(f"stack {name} did not finish deleting ({status}): {exc}") \
                from None
        reasons = "\n".join(f"  - {r}" for r in delete_failure_reasons(cf, stack_id))
        raise TeardownError(
            f"stack {name} is DELETE_FAILED:\n{reasons or '  (no reason in the stack events)'}\n"
            "Fix or remove what blocks it, then run the teardown again (it resumes where it "
            "stopped).") from None
    log(f"stack {name}: DELETE_COMPLETE")


def empty_and_delete_bucket(s3: Any, bucket: str, log: Log) -> None:
    """Delete every object version and delete marker (a versioned bucket must be empty of both
    before DeleteBucket succeeds), a page of at most 1000 at a time, then the bucket.

    Each page is listed from the start rather than from the previous page's markers: the
    entries before them are gone by then, and what is left is always the first page."""
    deleted = 0
    try:
        while True:
            page = s3.list_object_versions(Bucket=bucket, MaxKeys=S3_DELETE_BATCH)
            entries = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                       for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            if not entries:
                break
            reply = s3.delete_objects(Bucket=bucket, Delete={"Objects": entries, "Quiet": True})
            if errors := reply.get("Errors"):
                first = errors[0]
                raise TeardownError(
                    f"bucket {bucket}: {len(errors)} object versions could not be deleted, "
                    f"first {first['Key']} ({first.get('VersionId')}): {first['Code']} "
                    f"{first['Message']}")
            deleted += len(entries)
        s3.delete_bucket(Bucket=bucket)
    except ClientError as exc:
        if _error_code(exc) != "NoSuchBucket":
            raise
        log(f"bucket {bucket}: not found, nothing to delete")
        return
    log(f"bucket {bucket}: deleted with its {deleted} object versions and delete markers")


def empty_and_delete_repository(ecr: Any, repository: str, log: Log) -> None:
    """Delete every image (by digest: one digest can carry several tags), then the repository."""
    try:
        digests = sorted({image["imageDigest"]
                          for page in ecr.get_paginator("list_images").paginate(
                              repositoryName=repository)
                          for image in page["imageIds"] if "imageDigest" in image})
        for batch in batched(digests, ECR_DELETE_BATCH):
            reply = ecr.batch_delete_image(repositoryName=repository,
                                           imageIds=[{"imageDigest": d} for d in batch])
            if failures := reply.get("failures"):
                first = failures[0]
                raise TeardownError(
                    f"repository {repository}: {len(failures)} images could not be deleted, "
                    f"first {first.get('imageId')}: {first.get('failureCode')} "
                    f"{first.get('failureReason')}")
        ecr.delete_repository(repositoryName=repository)
    except ClientError as exc:
        if _error_code(exc) != "RepositoryNotFoundException":
            raise
        log(f"repository {repository}: not found, nothing to delete")
        return
    log(f"repository {repository}: deleted with its {len(digests)} images")


def run(plan: Plan, clients: Clients, log: Log) -> None:
    for name in plan.app_stacks:
        delete_stack(clients.cloudformation, name, log)
    empty_and_delete_bucket(clients.s3, plan.bucket, log)
    empty_and_delete_repository(clients.ecr, plan.repository, log)
    delete_stack(clients.cloudformation, plan.pipeline_stack, log)


def aws_errors(action: Callable[[], T]) -> T:
    """Run `action`, turning the SDK's errors into a TeardownError that says what to do."""
    try:
        return action()
    except NoCredentialsError:
        raise TeardownError(
            "no AWS credentials found: configure them as for the AWS CLI (`aws configure`, "
            "`aws sso login --profile NAME` with AWS_PROFILE=NAME, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY)") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        operation = getattr(exc, "operation_name", "the call")
        raise TeardownError(f"{operation} failed: {error.get('Code')}: {error.get('Message')}") \
            from None
    except ResponseParserError as exc:
        # Not an AWS reply: typically AWS_ENDPOINT_URL names an emulator lacking the service.
        where = os.environ.get("AWS_ENDPOINT_URL", "the AWS endpoint")
        raise TeardownError(f"unreadable reply from {where}: {exc}") from None
    except BotoCoreError as exc:
        raise TeardownError(str(exc)) from None


def teardown(deployment: Deployment, clients: Clients | None = None,
             log: Log = print) -> Plan:
    """Resolve and delete the whole deployment; returns what was deleted."""
    clients = clients or aws_errors(Clients.from_session)
    plan = aws_errors(lambda: resolve(deployment, clients))
    aws_errors(lambda: run(plan, clients, log))
    return plan
