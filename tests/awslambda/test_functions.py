"""The Lambda API through real boto3 clients: functions from a zip or from the local S3, their
configuration, code, versions, policies and tags, Lambda's waiters, and AWS's errors for what
Lambda refuses."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile

import httpx
import pytest
from awslambda.lambda_kit import HANDLER, ROLE, create, invoke, zip_of
from botocore.exceptions import ClientError
from testkit import unique

WAIT = {"Delay": 1, "MaxAttempts": 30}


@pytest.fixture
def lam(aws):
    return aws("lambda")


def error_of(call, *args, **kwargs) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    error = caught.value.response
    return (error["Error"]["Code"], error["Error"]["Message"],
            error["ResponseMetadata"]["HTTPStatusCode"])


def test_a_function_from_a_zip_is_described_as_aws_describes_it(lam):
    package = zip_of({"app.py": HANDLER})
    name = create(lam, {"app.py": HANDLER}, Environment={"Variables": {"GREETING": "hi"}},
                  MemorySize=256, Description="test function", Tags={"team": "ml"})
    got = lam.get_function(FunctionName=name)
    config = got["Configuration"]
    assert config["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert (config["Runtime"], config["Handler"], config["Role"]) == ("python3.12",
                                                                      "app.handler", ROLE)
    assert (config["Timeout"], config["MemorySize"], config["Version"]) == (10, 256, "$LATEST")
    assert config["CodeSha256"] == base64.b64encode(hashlib.sha256(package).digest()).decode()
    assert config["CodeSize"] == len(package)
    assert config["Environment"] == {"Variables": {"GREETING": "hi"}}
    assert (config["State"], config["LastUpdateStatus"]) == ("Active", "Successful")
    assert config["LoggingConfig"]["LogGroup"] == f"/aws/lambda/{name}"
    assert got["Tags"] == {"team": "ml"}
    assert got["Code"]["RepositoryType"] == "S3"
    downloaded = httpx.get(got["Code"]["Location"], trust_env=False)
    assert downloaded.status_code == 200
    assert zipfile.ZipFile(io.BytesIO(downloaded.content)).read("app.py").decode() == HANDLER
    described = lam.get_function_configuration(FunctionName=config["FunctionArn"])
    assert {**described, "ResponseMetadata": None} == {**config, "ResponseMetadata": None}


def test_code_location_is_signed(lam, local_aws):
    name = create(lam)
    location = lam.get_function(FunctionName=name)["Code"]["Location"]
    tampered = location.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    refused = httpx.get(tampered, trust_env=False)
    assert refused.status_code == 400
    assert refused.json()["__type"] == "InvalidSignatureException"
    unsigned = httpx.get(location.split("?")[0], trust_env=False)
    assert unsigned.json()["__type"] == "MissingAuthenticationTokenException"


def test_a_function_from_the_local_s3(lam, s3):
    bucket = unique("code")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="fn.zip", Body=zip_of({"app.py": HANDLER}))
    name = unique("fn")
    lam.create_function(FunctionName=name, Runtime="python3.13", Role=ROLE,
                        Handler="app.handler", Code={"S3Bucket": bucket, "S3Key": "fn.zip"})
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=WAIT)
    _, answer = invoke(lam, name, {"action": "echo"})
    assert answer["invocations"] == 1
    assert answer["env"]["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"


def test_updates_are_waited_for_and_take_effect(lam):
    name = create(lam)
    first = lam.get_function_configuration(FunctionName=name)
    lam.update_function_code(FunctionName=name, ZipFile=zip_of({
        "app.py": "def handler(event, context):\n    return 'version two'\n"}))
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAIT)
    assert invoke(lam, name)[1] == "version two"
    lam.update_function_configuration(FunctionName=name, Timeout=20,
                                      Environment={"Variables": {"GREETING": "hello"}})
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAIT)
    config = lam.get_function_configuration(FunctionName=name)
    assert config["Timeout"] == 20 and config["RevisionId"] != first["RevisionId"]
    assert config["CodeSha256"] != first["CodeSha256"]
    code, message, status = error_of(lam.update_function_configuration, FunctionName=name,
                                     Timeout=5, RevisionId=first["RevisionId"])
    assert (code, status) == ("PreconditionFailedException", 412)
    assert "does not match the latest Revision Id" in message


def test_list_functions_pages(lam):
    names = {create(lam) for _ in range(3)}
    seen: list[str] = []
    for page in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2}):
        assert len(page["Functions"]) <= 2
        seen += [f["FunctionName"] for f in page["Functions"]]
    assert names <= set(seen) and len(seen) == len(set(seen))


def test_versions_are_published_and_invoked(lam):
    name = create(lam, {"app.py": "def handler(event, context):\n    return 'one'\n"})
    version = lam.publish_version(FunctionName=name)
    assert version["Version"] == "1" and version["FunctionArn"].endswith(f":{name}:1")
    assert lam.publish_version(FunctionName=name)["Version"] == "1"  # nothing changed
    lam.update_function_code(FunctionName=name, ZipFile=zip_of(
        {"app.py": "def handler(event, context):\n    return 'two'\n"}), Publish=True)
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] \
        == ["$LATEST", "1", "2"]
    response, answer = invoke(lam, name, Qualifier="1")
    assert answer == "one" and response["ExecutedVersion"] == "1"
    assert invoke(lam, f"{name}:2")[1] == "two"
    assert invoke(lam, name)[1] == "two"
    lam.delete_function(FunctionName=name, Qualifier="1")
    assert error_of(lam.invoke, FunctionName=name, Qualifier="1")[0] == \
        "ResourceNotFoundException"


def test_permissions_are_recorded(lam):
    name = create(lam)
    added = lam.add_permission(FunctionName=name, StatementId="s3-invoke",
                               Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
                               SourceArn="arn:aws:s3:::some-bucket", SourceAccount="000000000000")
    statement = json.loads(added["Statement"])
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Condition"]["ArnLike"] == {"AWS:SourceArn": "arn:aws:s3:::some-bucket"}
    policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["s3-invoke"]
    code, message, status = error_of(lam.add_permission, FunctionName=name,
                                     StatementId="s3-invoke", Action="lambda:InvokeFunction",
                                     Principal="s3.amazonaws.com")
    assert (code, status) == ("ResourceConflictException", 409) and "already exists" in message
    lam.remove_permission(FunctionName=name, StatementId="s3-invoke")
    assert error_of(lam.get_policy, FunctionName=name)[2] == 404
    assert error_of(lam.remove_permission, FunctionName=name, StatementId="s3-invoke")[0] == \
        "ResourceNotFoundException"


def test_tags(lam):
    name = create(lam)
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    lam.tag_resource(Resource=arn, Tags={"a": "1", "b": "2"})
    lam.untag_resource(Resource=arn, TagKeys=["a"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"b": "2"}


def test_a_deleted_function_is_gone(lam):
    name = create(lam)
    assert invoke(lam, name)[1]["invocations"] == 1
    lam.delete_function(FunctionName=name)
    for call in (lam.get_function, lam.invoke, lam.delete_function):
        code, message, status = error_of(call, FunctionName=name)
        assert (code, status) == ("ResourceNotFoundException", 404)
        assert message == \
            f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:{name}"


@pytest.mark.parametrize("settings, code, message", [
    ({"Runtime": "python3.9"}, "InvalidParameterValueException",
     "The runtime parameter of python3.9 is no longer supported for creating or updating AWS "
     "Lambda functions. We recommend you use the new runtime (python3.12) while creating or "
     "updating functions."),
    ({"Runtime": "nodejs20.x"}, "InvalidParameterValueException",
     "The runtime parameter of nodejs20.x is not emulated locally"),
    ({"Runtime": "python3.99"}, "ValidationException", "failed to satisfy constraint"),
    ({"Code": {"ZipFile": b"not a zip"}}, "InvalidParameterValueException",
     "Could not unzip uploaded file. Please check your file, then try to upload again."),
    ({"Code": {"S3Bucket": "no-such-bucket-here", "S3Key": "x.zip"}},
     "InvalidParameterValueException",
     "Error occurred while GetObject. S3 Error Code: NoSuchBucket."),
    ({"Timeout": 901}, "ValidationException",
     "Value '901' at 'timeout' failed to satisfy constraint: Member must have value less than "
     "or equal to 900"),
    ({"Environment": {"Variables": {"AWS_REGION": "eu-west-1"}}},
     "InvalidParameterValueException", "Reserved keys used in this request: AWS_REGION"),
    ({"Layers": ["arn:aws:lambda:us-east-1:000000000000:layer:x:1"]},
     "InvalidParameterValueException", "Layers is not emulated"),
    ({"PackageType": "Image", "Code": {"ImageUri": "x"}}, "InvalidParameterValueException",
     "PackageType Image is not emulated"),
])
def test_what_lambda_refuses_is_refused_with_its_error(lam, settings, code, message):
    params = {"FunctionName": unique("fn"), "Runtime": "python3.12", "Role": ROLE,
              "Handler": "app.handler", "Code": {"ZipFile": zip_of({"app.py": HANDLER})},
              **settings}
    got_code, got_message, status = error_of(lam.create_function, **params)
    assert (got_code, status) == (code, 400)
    assert message in got_message
    assert error_of(lam.get_function, FunctionName=params["FunctionName"])[2] == 404


def test_a_name_taken_is_a_conflict(lam):
    name = create(lam)
    code, message, status = error_of(lam.create_function, FunctionName=name,
                                     Runtime="python3.12", Role=ROLE, Handler="app.handler",
                                     Code={"ZipFile": zip_of({"app.py": HANDLER})})
    assert (code, message, status) == ("ResourceConflictException",
                                       f"Function already exist: {name}", 409)
