"""An SNS lambda subscription through the local Lambda: Publish invokes the function
asynchronously with the event SNS sends (`Records[0].Sns`); the function's own boto3 writes
what it received to the local S3, where the test reads it."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile

HANDLER = '''
import json
import boto3

def handler(event, context):
    record = event["Records"][0]
    key = record["Sns"]["MessageId"]
    boto3.client("s3").put_object(Bucket=record["Sns"]["MessageAttributes"]["bucket"]["Value"],
                                  Key=key, Body=json.dumps(event).encode())
'''


def package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLER)
    return buffer.getvalue()


def test_a_published_message_reaches_a_subscribed_function(aws):
    sns, lam, s3 = aws("sns"), aws("lambda"), aws("s3")
    suffix = uuid.uuid4().hex[:8]
    bucket, name = f"sns-events-{suffix}", f"on-message-{suffix}"
    s3.create_bucket(Bucket=bucket)
    function_arn = lam.create_function(
        FunctionName=name, Runtime="python3.12", Handler="app.handler", Timeout=30,
        Role="arn:aws:iam::000000000000:role/sns-tests", Code={"ZipFile": package()},
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name,
                                              WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    topic = sns.create_topic(Name=f"events-{suffix}")["TopicArn"]
    subscription = sns.subscribe(TopicArn=topic, Protocol="lambda",
                                 Endpoint=function_arn)["SubscriptionArn"]

    message_id = sns.publish(TopicArn=topic, Subject="release", Message="approved",
                             MessageAttributes={"bucket": {"DataType": "String",
                                                           "StringValue": bucket}})["MessageId"]

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        if listed:
            break
        time.sleep(0.2)
    assert [o["Key"] for o in listed] == [message_id]
    event = json.loads(s3.get_object(Bucket=bucket, Key=message_id)["Body"].read())
    (record,) = event["Records"]
    assert (record["EventSource"], record["EventVersion"]) == ("aws:sns", "1.0")
    assert record["EventSubscriptionArn"] == subscription
    notification = record["Sns"]
    assert (notification["Type"], notification["TopicArn"], notification["Subject"],
            notification["Message"]) == ("Notification", topic, "release", "approved")
    assert notification["MessageAttributes"] == {"bucket": {"Type": "String", "Value": bucket}}

    sns.delete_topic(TopicArn=topic)
    lam.delete_function(FunctionName=name)
    s3.delete_object(Bucket=bucket, Key=message_id)
    s3.delete_bucket(Bucket=bucket)
