"""The local CloudWatch Logs on the wire (AWS JSON 1.1): its handler table."""

from __future__ import annotations

from sagepipe.edge import AwsService
from sagepipe.logs.models import CloudWatchLogs


def logs_service(logs: CloudWatchLogs) -> AwsService:
    return AwsService("logs", "CloudWatch Logs", {
        "CreateLogGroup": logs.create_log_group,
        "DeleteLogGroup": logs.delete_log_group,
        "DescribeLogGroups": logs.describe_log_groups,
        "PutRetentionPolicy": logs.put_retention_policy,
        "DeleteRetentionPolicy": logs.delete_retention_policy,
        "TagResource": logs.tag_resource,
        "UntagResource": logs.untag_resource,
        "ListTagsForResource": logs.list_tags_for_resource,
        "CreateLogStream": logs.create_log_stream,
        "DeleteLogStream": logs.delete_log_stream,
        "DescribeLogStreams": logs.describe_log_streams,
        "GetLogEvents": logs.get_log_events,
        "FilterLogEvents": logs.filter_log_events,
        "PutLogEvents": logs.put_log_events,
    })
