"""Constants and helpers shared by the test folders (import as `from testkit import ...`;
`conftest` cannot be imported by name once sub-folders have their own conftest.py)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.exceptions import ClientError, WaiterError

from sagepipe.clients import SigV4, internal, local_env
from sagepipe.clients import client as client_for
from sagepipe.config import Settings
from sagepipe.processes import free_port
from sagepipe.sigv4 import sign

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"  # small committed files, sources in its README
MODEL_IMAGE_URI = "000000000000.dkr.ecr.us-east-1.amazonaws.com/sagepipe-model:test"
STUB_IMAGE_DIR = REPO / "tests" / "images" / "stub"  # the one stub model server
STUB_IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/stub-model:test"
API_DIR = REPO / "chalice-api"
BIN = Path(sys.executable).parent

__all__ = ["API_DIR", "BIN", "MODEL_IMAGE_URI", "REPO", "STUB_IMAGE", "STUB_IMAGE_DIR",
           "TEST_DATA", "LocalStacks", "StackFailed", "aws_cli_v2", "chalice_package",
           "client_for", "free_port", "register_image", "register_stub_image", "signed_headers",
           "signed_http", "tail_command", "unique", "use_local_aws", "wait_until"]


def register_image(settings: Settings, directory: Path, uri: str) -> str:
    """Register `directory` as the image `uri` with the running local AWS of `settings`, as
    `sagepipe image register DIRECTORY --uri URI` does (through its gateway: the running local
    AWS owns its state); returns `uri`."""
    internal(settings, "PUT", "images", {"uri": uri, "directory": str(directory.resolve())},
             timeout=1800)
    return uri


def register_stub_image(settings: Settings) -> str:
    """The stub model server (tests/images/stub/serve: its docstring says how a model makes it
    behave) registered as STUB_IMAGE; returns STUB_IMAGE."""
    return register_image(settings, STUB_IMAGE_DIR, STUB_IMAGE)


def unique(prefix: str) -> str:
    """A name no other test uses (`prefix-` and 8 hex digits): tests share a local AWS."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def use_local_aws(patch: Any, settings: Settings, **extra: str) -> None:
    """Point code that makes its clients with `boto3.client(...)` (the launcher, the Chalice
    app) at the local AWS of `settings`, as `sagepipe env` would in a new shell: its variables
    set with `patch` (a pytest MonkeyPatch), and boto3's default session dropped. That session
    keeps the credentials it found when first used, so another test of this worker that used
    `boto3.client` first (with moto's) would otherwise sign these calls with those."""
    for name, value in {**local_env(settings), **extra}.items():
        patch.setenv(name, value)
    patch.setattr(boto3, "DEFAULT_SESSION", None)


def chalice_package(out: Path, *args: str, env: dict[str, str] | None = None) -> Path:
    """`chalice package ARGS OUT` of chalice-api/, as the PackageApi build runs it: `out`.

    One at a time (a lock on the app's .chalice/config.json): chalice writes its cached
    deployment.zip under .chalice/deployments/ in place, and reuses any file it finds there, so
    a second worker packaging meanwhile would ship a half-written zip."""
    env = env or {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION",
                                                                     "us-east-1")}
    with open(API_DIR / ".chalice" / "config.json") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run([str(BIN / "chalice"), "package", *args, str(out)], cwd=API_DIR,
                       env=env, check=True, capture_output=True)
    return out


def signed_http(settings: Settings, service: str = "s3", **options: Any) -> httpx.Client:
    """An httpx client for raw requests to the local AWS, signed with its home's credentials
    for `service` (as an SDK signs them)."""
    return httpx.Client(base_url=settings.endpoint_url, auth=SigV4(settings, service),
                        trust_env=False, **options)


def signed_headers(settings: Settings, method: str, path: str, service: str = "s3",
                   headers: dict[str, str] | None = None) -> dict[str, str]:
    """The headers of a request to the local AWS signed with its home's credentials (S3 with
    UNSIGNED-PAYLOAD unless `headers` says otherwise), for requests written by hand."""
    credentials = settings.credentials
    headers = {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD", **(headers or {})} \
        if service == "s3" else dict(headers or {})
    signed = sign(method, settings.endpoint_url + path, b"", credentials.access_key_id,
                  credentials.secret_access_key, settings.region, headers, service=service)
    return {"Host": f"127.0.0.1:{settings.port}", **signed}


def aws_cli_v2() -> str | None:
    """An AWS CLI version 2 (`aws logs tail` is a v2 command; the venv's `aws` is v1)."""
    candidates = [str(Path(d) / "aws") for d in os.environ.get("PATH", "").split(os.pathsep)]
    for path in [*candidates, "/usr/bin/aws", "/usr/local/bin/aws"]:
        if shutil.which(path) is None:
            continue
        version = subprocess.run([path, "--version"], capture_output=True, text=True,
                                 check=False, timeout=60)
        if version.stdout.startswith("aws-cli/2."):
            return path
    return None


def tail_command(cli: str, settings: Settings, *args: str) -> tuple[list[str], dict[str, str]]:
    """`aws logs tail ARGS` (CLI v2 `cli`) against the local AWS of `settings`, and its
    environment."""
    env = {**os.environ, **local_env(settings), "AWS_PAGER": ""}
    env.pop("AWS_ENDPOINT_URL", None)  # CLI 2.9 predates it: --endpoint-url says where
    return [cli, "logs", "tail", *args, "--endpoint-url", settings.endpoint_url,
            "--region", settings.region, "--format", "short"], env


def wait_until(describe: Callable[[], Any], condition: Callable[[Any], bool], what: str,
               timeout: float = 120) -> Any:
    """Poll `describe` (a Describe call, an HTTP request) until `condition` holds its answer (a
    bounded wait, not a speed check)."""
    deadline = time.monotonic() + timeout
    while True:
        doc = describe()
        if condition(doc):
            return doc
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}; last answer: {doc}")
        time.sleep(0.2)


class StackFailed(AssertionError):
    """A stack operation that did not complete; the message has the failed resources' reasons
    from the stack's events."""


class LocalStacks:
    """Stacks through the local CloudFormation API (create or update, then the waiter), as
    `aws cloudformation deploy` does: the running local AWS owns its state, tests are clients."""

    WAIT = {"Delay": 1, "MaxAttempts": 600}

    def __init__(self, settings: Settings) -> None:
        self.cfn = client_for(settings, "cloudformation")

    def deploy(self, name: str, template: str | dict[str, Any],
               parameters: dict[str, str]) -> dict[str, str]:
        """The stack's outputs once it is CREATE_COMPLETE or UPDATE_COMPLETE."""
        body = template if isinstance(template, str) else json.dumps(template)
        request = {"StackName": name, "TemplateBody": body,
                   "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM",
                                    "CAPABILITY_AUTO_EXPAND"],
                   "Parameters": [{"ParameterKey": k, "ParameterValue": v}
                                  for k, v in parameters.items()]}
        if self.describe(name) is None:
            self.cfn.create_stack(**request)
            self._wait("stack_create_complete", name)
        else:
            self.cfn.update_stack(**request)
            self._wait("stack_update_complete", name)
        return {o["OutputKey"]: o["OutputValue"] for o in self.describe(name).get("Outputs", [])}

    def delete(self, name: str) -> None:
        self.cfn.delete_stack(StackName=name)
        self._wait("stack_delete_complete", name)

    def describe(self, name: str) -> dict[str, Any] | None:
        try:
            return self.cfn.describe_stacks(StackName=name)["Stacks"][0]
        except ClientError as error:
            if "does not exist" in error.response["Error"]["Message"]:
                return None
            raise

    def _wait(self, waiter: str, name: str) -> None:
        try:
            self.cfn.get_waiter(waiter).wait(StackName=name, WaiterConfig=self.WAIT)
        except WaiterError:
            events = self.cfn.describe_stack_events(StackName=name)["StackEvents"]
            reasons = [f"{e['LogicalResourceId']}: {e['ResourceStatusReason']}" for e in events
                       if e["ResourceStatus"].endswith("FAILED") and e.get("ResourceStatusReason")]
            raise StackFailed(f"stack {name}: " + "; ".join(reasons)) from None
