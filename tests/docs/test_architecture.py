"""The architecture pictures (Graphviz source and Mermaid) show every stage, action, deployed
stack and IAM role that pipeline.yaml defines, so that they cannot silently fall behind it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sagepipe.cloudformation.template import load

REPO = Path(__file__).resolve().parents[2]
DOT = (REPO / "Docs" / "architecture.dot").read_text()
MERMAID = (REPO / "Docs" / "architecture.md").read_text().split("```mermaid\n", 1)[1] \
    .split("```", 1)[0]
TEMPLATE = load(REPO / "CodePipeline" / "pipeline.yaml")
STAGES = TEMPLATE["Resources"]["Pipeline"]["Properties"]["Stages"]


@pytest.mark.parametrize("picture", [DOT, MERMAID], ids=["dot", "mermaid"])
def test_every_stage_and_action_is_drawn(picture: str):
    for stage in STAGES:
        assert stage["Name"] in picture
        for action in stage["Actions"]:
            assert f"<b>{action['Name']}</b>" in picture, action["Name"]


@pytest.mark.parametrize("picture", [DOT.replace("&lt;P&gt;", "P").replace("<P>", "P"), MERMAID],
                         ids=["dot", "mermaid"])
def test_every_role_and_deployed_stack_is_named(picture: str):
    roles = [props["Properties"]["RoleName"]["Fn::Sub"].replace("${ProjectName}", "P")
             for props in TEMPLATE["Resources"].values() if props["Type"] == "AWS::IAM::Role"]
    assert len(roles) == 10  # CodePipeline, CloudFormation, SageMaker, seven build projects
    for name in [*roles, "stack P-training", "P-training-StateMachineRole", "P-endpoint-qa",
                 "P-endpoint-prod", "stack P-api"]:
        assert name in picture
