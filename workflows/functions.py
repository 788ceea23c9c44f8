"""The workflows' Lambda functions: their code (`workflows/lambdas/`), its deployment package,
deploying them with boto3 (`python -m workflows.retail` does it), and their CloudFormation
resources (each function with a role of its own and a log group).

`python -m workflows.functions OUT.zip` writes the deployment package that the templates'
`LambdaCodeBucket`/`LambdaCodeKey` parameters point at (upload it to S3 first).
"""

from __future__ import annotations

import io
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from workflows.stack import Parameter, arn, assume_role, ref

CODE = Path(__file__).resolve().parent / "lambdas"
RUNTIME = "python3.12"
CODE_BUCKET = Parameter("LambdaCodeBucket", "Bucket holding the functions' deployment package "
                        "(python -m workflows.functions lambdas.zip, then upload it)")
CODE_KEY = Parameter("LambdaCodeKey", "Key of the deployment package in LambdaCodeBucket",
                     "workflows/lambdas.zip")


@dataclass(frozen=True)
class Function:
    """One function of the package: its resource name in templates, its name suffix when the
    module deploys it, its handler and limits, and the AWS calls it makes."""

    resource: str
    suffix: str
    handler: str
    description: str
    timeout: int = 60
    memory: int = 256
    statements: tuple[dict[str, Any], ...] = ()


def package() -> bytes:
    """The deployment package: the handler modules at the archive's root, byte for byte the
    same for the same sources (fixed timestamps and order)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(CODE.glob("*.py")):
            info = zipfile.ZipInfo(path.name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def deploy(lam: Any, function: Function, name: str, role_arn: str, code: bytes) -> str:
    """Create the function, or bring its code and settings up to date; its ARN once active."""
    settings = {"Role": role_arn, "Handler": function.handler, "Runtime": RUNTIME,
                "Timeout": function.timeout, "MemorySize": function.memory,
                "Description": function.description}
    try:
        lam.get_function(FunctionName=name)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        created = _retry_while_role_propagates(lambda: lam.create_function(
            FunctionName=name, Code={"ZipFile": code}, Publish=False, **settings))
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        return created["FunctionArn"]
    lam.update_function_code(FunctionName=name, ZipFile=code)
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    updated = lam.update_function_configuration(FunctionName=name, **settings)
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    return updated["FunctionArn"]


def _retry_while_role_propagates(create: Any, attempts: int = 6) -> dict[str, Any]:
    """CreateFunction right after the role was made is refused until IAM has propagated it."""
    for attempt in range(attempts):
        try:
            return create()
        except ClientError as error:
            assumable = "cannot be assumed" in error.response["Error"].get("Message", "")
            if not assumable or attempt == attempts - 1:
                raise
            time.sleep(5)
    raise AssertionError("unreachable")


def resources(function: Function) -> dict[str, Any]:
    """The function, its role (its log group plus its own statements) and its log group."""
    name = {"Fn::Sub": f"${{AWS::StackName}}-{function.suffix}"}
    log_group = f"/aws/lambda/${{AWS::StackName}}-{function.suffix}"
    logs = {"Sid": "WriteOwnLogs", "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": arn("logs", f"log-group:{log_group}:*")}
    return {
        f"{function.resource}Role": {"Type": "AWS::IAM::Role", "Properties": {
            "Description": function.description,
            "AssumeRolePolicyDocument": assume_role("lambda"),
            "Policies": [{"PolicyName": function.suffix, "PolicyDocument": {
                "Version": "2012-10-17", "Statement": [logs, *function.statements]}}]}},
        f"{function.resource}Logs": {"Type": "AWS::Logs::LogGroup",
                                     "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete",
                                     "Properties": {"LogGroupName": {"Fn::Sub": log_group},
                                                    "RetentionInDays": 30}},
        function.resource: {"Type": "AWS::Lambda::Function", "Properties": {
            "FunctionName": name, "Description": function.description,
            "Runtime": RUNTIME, "Handler": function.handler,
            "Code": {"S3Bucket": ref(CODE_BUCKET.name), "S3Key": ref(CODE_KEY.name)},
            "Role": {"Fn::GetAtt": [f"{function.resource}Role", "Arn"]},
            "Timeout": function.timeout, "MemorySize": function.memory,
            "LoggingConfig": {"LogGroup": ref(f"{function.resource}Logs")}}},
    }


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m workflows.functions OUT.zip")
    Path(sys.argv[1]).write_bytes(package())
    print(sys.argv[1])
