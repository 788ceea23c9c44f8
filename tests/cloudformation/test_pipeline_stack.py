"""The README's AWS section against the local AWS, with the AWS CLI only: the pipeline stack
(CodePipeline/pipeline.yaml) is created with `create-stack --capabilities CAPABILITY_NAMED_IAM`
and `wait stack-create-complete`; it creates the artifact bucket, the approval topic and its
email subscription (the confirmation lands in the outbox), the image repository, the roles and
the log group, and records what the local AWS does not emulate (the build projects and the
pipeline, until CodeBuild and CodePipeline serve them: "not emulated locally, recorded
only"); `delete-stack` removes what it should and keeps the RetainExceptOnCreate bucket and
repository, as AWS does after a successful create."""

from __future__ import annotations

import json
import random
import string
from email import policy
from email.parser import BytesParser

from stack_kit import aws_cli
from testkit import REPO

from sagepipe.clients import internal
from sagepipe.cloudformation.providers import provider_for
from sagepipe.cloudformation.template import load

TEMPLATE = REPO / "CodePipeline" / "pipeline.yaml"
LOCAL_PARAMETERS = json.loads((REPO / "CodePipeline" / "local-parameters.json").read_text())


def cli_json(local_aws, *args: str) -> dict:
    return json.loads(aws_cli(local_aws, *args, "--output", "json").stdout or "{}")


def test_create_stack_of_the_pipeline_then_delete_it(local_aws, aws):
    project = "p" + "".join(random.choices(string.ascii_lowercase, k=10))
    stack = f"{project}-pipeline"
    connection = aws("codeconnections").create_connection(
        ProviderType="GitHub", ConnectionName=project)["ConnectionArn"]
    values = {**LOCAL_PARAMETERS, "ProjectName": project, "ApprovalEmail": f"{project}@ex.com",
              "CodeConnectionArn": connection}
    created = cli_json(
        local_aws, "cloudformation", "create-stack", "--stack-name", stack,
        "--template-body", f"file://{TEMPLATE}",
        "--capabilities", "CAPABILITY_NAMED_IAM", "--parameters",
        *[f"ParameterKey={k},ParameterValue={v}" for k, v in values.items()])
    assert created["StackId"].startswith("arn:aws:cloudformation:us-east-1:000000000000:stack/")
    aws_cli(local_aws, "cloudformation", "wait", "stack-create-complete", "--stack-name", stack)

    (described,) = cli_json(local_aws, "cloudformation", "describe-stacks", "--stack-name",
                            stack)["Stacks"]
    assert described["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    bucket = outputs["ArtifactBucketName"]
    assert bucket == f"{project}-artifacts-000000000000-us-east-1"
    assert outputs["PipelineName"] == f"{project}-pipeline"

    # created for real: the bucket, the topic and its subscription, the repository
    aws("s3").head_bucket(Bucket=bucket)
    topic_arn = outputs["ApprovalTopicArn"]
    attributes = aws("sns").get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    assert attributes["DisplayName"] == f"{project} release approvals"
    assert attributes["KmsMasterKeyId"] == "alias/aws/sns"
    # the stack's topic policy (the pipeline role publishes by its own policy, same account)
    policy_document = json.loads(attributes["Policy"])
    assert [s["Sid"] for s in policy_document["Statement"]] == ["DenyInsecureTransport"]
    (subscription,) = aws("sns").list_subscriptions_by_topic(TopicArn=topic_arn)[
        "Subscriptions"]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", f"{project}@ex.com")
    confirmations = sorted((local_aws.home / "outbox").glob(
        f"*-{project}-release-approvals-confirmation.eml"))
    assert len(confirmations) == 1
    confirmation = BytesParser(policy=policy.default).parse(confirmations[0].open("rb"))
    assert confirmation["To"] == f"{project}@ex.com"
    assert topic_arn in confirmation.get_content()
    (repository,) = aws("ecr").describe_repositories(repositoryNames=[f"{project}-model"])[
        "repositories"]
    assert repository["repositoryUri"] == outputs["ImageRepositoryUri"]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}

    # the rest recorded, and the events say so
    events = cli_json(local_aws, "cloudformation", "describe-stack-events", "--stack-name",
                      stack)["StackEvents"]
    done = {e["LogicalResourceId"]: e for e in events
            if e["ResourceStatus"] == "CREATE_COMPLETE" and e["LogicalResourceId"] != stack}
    recorded = {k for k, e in done.items() if not provider_for(e["ResourceType"]).emulated}
    assert "Pipeline" in recorded or provider_for("AWS::CodePipeline::Pipeline").emulated
    for logical in recorded:
        assert done[logical]["ResourceStatusReason"] == "not emulated locally, recorded only"
    aws("iam").get_role(RoleName=f"{project}-codepipeline-role")  # the local IAM has it
    assert [g["logGroupName"] for g in aws("logs").describe_log_groups(
        logGroupNamePrefix=f"/aws/codebuild/{project}")["logGroups"]] == [
        f"/aws/codebuild/{project}"]
    assert aws("s3").get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"  # applied
    assert "recorded only" in done["ImageRepository"]["ResourceStatusReason"]  # lifecycle
    summaries = cli_json(local_aws, "cloudformation", "list-stack-resources", "--stack-name",
                         stack)["StackResourceSummaries"]
    assert len(summaries) == len(load(TEMPLATE)["Resources"])
    assert {s["ResourceStatus"] for s in summaries} == {"CREATE_COMPLETE"}

    # the build pushes the model image under the repository's URI: ECR lists it
    image_uri = f"{outputs['ImageRepositoryUri']}:commit1"
    internal(local_aws, "PUT", "images", {"uri": image_uri, "directory": str(REPO / "model")})
    images = aws("ecr").describe_images(repositoryName=f"{project}-model")["imageDetails"]
    assert [i["imageTags"] for i in images] == [["commit1"]]
    aws("s3").put_object(Bucket=bucket, Key="artifacts/source.zip", Body=b"zip")

    # delete: the topic and subscription go; the bucket and repository are kept
    aws_cli(local_aws, "cloudformation", "delete-stack", "--stack-name", stack)
    aws_cli(local_aws, "cloudformation", "wait", "stack-delete-complete", "--stack-name", stack)
    events = cli_json(local_aws, "cloudformation", "describe-stack-events", "--stack-name",
                      created["StackId"])["StackEvents"]
    final = {e["LogicalResourceId"]: e["ResourceStatus"] for e in reversed(events)}
    assert final["ArtifactBucket"] == final["ImageRepository"] == "DELETE_SKIPPED"
    assert final["ApprovalTopic"] == final["ApprovalSubscription"] == "DELETE_COMPLETE"
    assert final[stack] == "DELETE_COMPLETE"
    assert topic_arn not in [t["TopicArn"] for t in aws("sns").list_topics()["Topics"]]
    assert aws("s3").get_object(Bucket=bucket, Key="artifacts/source.zip")["Body"].read() == b"zip"
    assert aws("ecr").describe_images(repositoryName=f"{project}-model")["imageDetails"]

    aws("ecr").delete_repository(repositoryName=f"{project}-model", force=True)
    s3 = aws("s3")  # a versioned bucket: `s3 rb --force` leaves its versions, as in AWS
    for version in s3.list_object_versions(Bucket=bucket).get("Versions", []):
        s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
    s3.delete_bucket(Bucket=bucket)
