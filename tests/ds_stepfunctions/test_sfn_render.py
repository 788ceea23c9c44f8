"""render_graph / render_progress: Mermaid, SVG, PNG, rich and notebook output, offline."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from defusedxml import ElementTree
from PIL import Image
from rich.console import Console
from sfn_kit import SFN_ROLE, hermione_train, retail

from ds_stepfunctions.steps import (
    Catch,
    Chain,
    Choice,
    ChoiceRule,
    Fail,
    LambdaStep,
    Parallel,
    Pass,
    Succeed,
)
from ds_stepfunctions.workflow import Execution, ExecutionStatus, Workflow
from ds_stepfunctions.workflow.graph import state_statuses

pytestmark = pytest.mark.aws_unit  # needs no local AWS: the UnitTests action runs it

SVG = "{http://www.w3.org/2000/svg}"


def small() -> Workflow:
    gate = Choice("Big?")
    gate.add_choice(ChoiceRule.NumericGreaterThan(variable="$.x", value=10),
                    next_step=Succeed("Yes"))
    gate.default_choice(Fail("No", cause="small"))
    both = Parallel("Both")
    both.add_branch(Pass("L"))
    both.add_branch(Pass("R"))
    call = LambdaStep("Call", parameters={"FunctionName": "f"})
    call.add_catch(Catch(error_equals=["States.ALL"], next_step=Fail("Oops")))
    return Workflow("small", Chain([call, both, gate]), SFN_ROLE)


def test_mermaid_text():
    assert small().render_graph(portrait=True).to_mermaid() == """\
flowchart TD
    start6(["Start"])
    start6 --> s0
    s0["Call<br/><small>lambda:invoke</small>"]
    s0 --> s1
    s0 -.->|"Catch States.ALL"| s2
    subgraph s1 ["Both<br/><small>Parallel: L, R</small>"]
        subgraph s1b0 [" "]
            start9(["Start"])
            start9 --> s8
            s8["L<br/><small>Pass</small>"]
            s8 --> end10
            end10(["End"])
        end
        subgraph s1b1 [" "]
            start12(["Start"])
            start12 --> s11
            s11["R<br/><small>Pass</small>"]
            s11 --> end13
            end13(["End"])
        end
    end
    s1 --> s3
    s2["Oops<br/><small>Fail</small>"]
    s2 --> end7
    s3{"Big?<br/><small>Choice</small>"}
    s3 -->|"$.x &gt; 10"| s4
    s3 -.->|"Default"| s5
    s4["Yes<br/><small>Succeed</small>"]
    s4 --> end7
    s5["No<br/><small>Fail</small>"]
    s5 --> end7
    end7(["End"])
    classDef NotStarted fill:#f4f4f4,stroke:#8d8d8d,color:#000
    classDef InProgress fill:#d6e8fb,stroke:#0972d3,color:#000
    classDef Succeeded fill:#d8f5d0,stroke:#037f0c,color:#000
    classDef Failed fill:#fde2e2,stroke:#d91515,color:#000
    classDef Caught fill:#fdebd0,stroke:#c45500,color:#000
"""


def test_svg_is_xml_with_every_state_and_no_script():
    for portrait in (True, False):
        graph = retail().render_graph(portrait=portrait)
        root = ElementTree.fromstring(graph.to_svg())
        assert root.tag == f"{SVG}svg"
        drawn = {g.get("data-state") for g in root.iter(f"{SVG}g")}
        assert drawn == {"Start", "End", *retail().definition.states}
        assert not list(root.iter(f"{SVG}script"))
        edges = list(root.iter(f"{SVG}path"))
        assert len(edges) == 1 + 9  # the arrow marker, and Start->...->End incl. both branches
    nested = ElementTree.fromstring(small().render_graph().to_svg())
    assert "Parallel: L, R" in "".join(nested.itertext())  # branch states are listed


def test_png_is_drawn_without_graphviz():
    data = small().render_graph().to_png(scale=1)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    layout = small().render_graph().layout()
    assert image.size == (int(layout.width), int(layout.height))
    assert len(image.getcolors(100_000)) > 3  # boxes, text and edges, not a blank page


def test_save_picks_the_format_from_the_suffix(tmp_path):
    graph = small().render_graph()
    assert graph.save(tmp_path / "g.svg").read_text().startswith("<svg")
    assert graph.save(tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    assert graph.save(tmp_path / "g.md").read_text().startswith("```mermaid\nflowchart LR")
    assert "<svg" in graph.save(tmp_path / "g.html").read_text()


def test_terminal_and_notebook_renderings():
    graph = small().render_graph()
    console = Console(record=True, width=120, color_system=None)
    console.print(graph)
    text = console.export_text()
    for name in ("Call", "Both", "branch from L", "Big?", "[$.x > 10] Yes", "[Default] No",
                 "[Catch States.ALL] Oops"):
        assert name in text
    html = graph._repr_html_()
    assert "<svg" in html and "<script" not in html and "http" not in html.replace(
        "http://www.w3.org/2000/svg", "")
    assert graph._repr_svg_().startswith("<svg")
    assert graph._repr_markdown_().startswith("```mermaid")


def event(id_, type_, prev=None, **details):
    e = {"id": id_, "type": type_, "timestamp": datetime(2026, 1, 1, tzinfo=UTC)}
    if prev is not None:
        e["previousEventId"] = prev
    e.update(details)
    return e


def entered(id_, type_, name, prev):
    return event(id_, type_, prev, stateEnteredEventDetails={"name": name})


def exited(id_, type_, name, prev):
    return event(id_, type_, prev, stateExitedEventDetails={"name": name})


CAUGHT_RUN = [
    event(1, "ExecutionStarted"),
    entered(2, "TaskStateEntered", "Preprocessing step", 1),
    event(3, "TaskScheduled", 2), event(4, "TaskStarted", 3), event(5, "TaskFailed", 4),
    entered(6, "FailStateEntered", "ML Workflow failed", 5),
    event(7, "ExecutionFailed", 6),
]


def test_statuses_from_history_events():
    assert state_statuses(CAUGHT_RUN) == {"Preprocessing step": "Caught",
                                          "ML Workflow failed": "Failed"}
    retried = [event(1, "ExecutionStarted"), entered(2, "TaskStateEntered", "Call", 1),
               event(3, "TaskScheduled", 2), event(4, "TaskFailed", 3),
               event(5, "TaskScheduled", 4), event(6, "TaskSucceeded", 5),
               exited(7, "TaskStateExited", "Call", 6),
               entered(8, "ChoiceStateEntered", "Big?", 7)]
    assert state_statuses(retried) == {"Call": "Succeeded", "Big?": "InProgress"}


def test_render_progress_colours_states_by_status(sfn):
    client, stub = sfn
    workflow = hermione_train()
    workflow._client = client
    arn = "arn:aws:states:us-east-1:123456789012:execution:SFN_Hermione_Train:run"
    stub.add_response("get_execution_history", {"events": CAUGHT_RUN},
                      {"executionArn": arn, "reverseOrder": False, "maxResults": 1000})
    run = Execution(workflow, arn, CAUGHT_RUN[0]["timestamp"], ExecutionStatus.Failed,
                    name="run")
    progress = run.render_progress()
    assert progress.statuses == {"Preprocessing step": "Caught", "ML Workflow failed": "Failed"}
    mermaid = progress.to_mermaid()
    assert "class s0 Caught" in mermaid and "class s2 Failed" in mermaid
    svg = ElementTree.fromstring(progress.to_svg())
    fills = {g.get("data-state"): g.find(f"{SVG}rect").get("fill") for g in svg.iter(f"{SVG}g")}
    assert fills["Preprocessing step"] == "#fdebd0"  # caught: orange
    assert fills["ML Workflow failed"] == "#fde2e2"  # failed: red
    assert fills["TrainStep"] == "#f4f4f4"  # never reached: grey
