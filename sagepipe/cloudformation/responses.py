"""The local CloudFormation API on the wire (query protocol): its handler table. What `aws
cloudformation deploy` / `create-stack` / `wait` and boto3's waiters call, and what the
pipeline's CloudFormation actions call, as CodePipeline calls CloudFormation in AWS."""

from __future__ import annotations

from sagepipe.cloudformation.models import CloudFormation
from sagepipe.edge import AwsService


def cloudformation_service(cfn: CloudFormation) -> AwsService:
    return AwsService("cloudformation", "CloudFormation", {
        "CreateStack": cfn.create_stack,
        "UpdateStack": cfn.update_stack,
        "DeleteStack": cfn.delete_stack,
        "UpdateTerminationProtection": cfn.update_termination_protection,
        "DescribeStacks": cfn.describe_stacks,
        "ListStacks": cfn.list_stacks,
        "DescribeStackEvents": cfn.describe_stack_events,
        "DescribeStackResources": cfn.describe_stack_resources,
        "DescribeStackResource": cfn.describe_stack_resource,
        "ListStackResources": cfn.list_stack_resources,
        "GetTemplate": cfn.get_template,
        "GetTemplateSummary": cfn.get_template_summary,
        "ValidateTemplate": cfn.validate_template,
        "CreateChangeSet": cfn.create_change_set,
        "DescribeChangeSet": cfn.describe_change_set,
        "ExecuteChangeSet": cfn.execute_change_set,
        "DeleteChangeSet": cfn.delete_change_set,
        "ListChangeSets": cfn.list_change_sets,
        "ListExports": cfn.list_exports,
        "ListImports": cfn.list_imports,
    })
