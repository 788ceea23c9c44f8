"""The local Step Functions on the wire (AWS JSON 1.0): the table of the operations it
implements, each a backend method. StartSyncExecution, which AWS serves on the `sync-` host
prefix, is served on the same endpoint: AWS clients pointed at the local AWS skip the prefix
(`AWS_DISABLE_HOST_PREFIX_INJECTION=true` in `sagepipe env`; a host `sync-127.0.0.1` would
not resolve)."""

from __future__ import annotations

from sagepipe.edge import AwsService
from sagepipe.stepfunctions.models import StepFunctions


def stepfunctions_service(backend: StepFunctions) -> AwsService:
    return AwsService("stepfunctions", "Step Functions", {
        "CreateStateMachine": backend.create_state_machine,
        "UpdateStateMachine": backend.update_state_machine,
        "DescribeStateMachine": backend.describe_state_machine,
        "ListStateMachines": backend.list_state_machines,
        "DeleteStateMachine": backend.delete_state_machine,
        "ValidateStateMachineDefinition": backend.validate_state_machine_definition,
        "StartExecution": backend.start_execution,
        "StartSyncExecution": backend.start_sync_execution,
        "DescribeExecution": backend.describe_execution,
        "DescribeStateMachineForExecution": backend.describe_state_machine_for_execution,
        "ListExecutions": backend.list_executions,
        "GetExecutionHistory": backend.get_execution_history,
        "StopExecution": backend.stop_execution,
        "SendTaskSuccess": backend.send_task_success,
        "SendTaskFailure": backend.send_task_failure,
        "SendTaskHeartbeat": backend.send_task_heartbeat,
        "TagResource": backend.tag_resource,
        "UntagResource": backend.untag_resource,
        "ListTagsForResource": backend.list_tags_for_resource,
    })
