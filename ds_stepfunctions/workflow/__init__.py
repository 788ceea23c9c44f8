"""Workflows and executions on Step Functions (the old SDK's `stepfunctions.workflow`)."""

from ds_stepfunctions.workflow.graph import WorkflowGraph
from ds_stepfunctions.workflow.stepfunctions import Execution, ExecutionStatus, Workflow

__all__ = ["Execution", "ExecutionStatus", "Workflow", "WorkflowGraph"]
