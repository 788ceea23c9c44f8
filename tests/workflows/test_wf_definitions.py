"""Each workflow's ASL is valid for the local Step Functions (its validator, with the check that
every Task resource is an integration it runs), and where the original Data Science SDK left a
golden definition (tests/ds_stepfunctions/golden), the workflow has its chain: the same states,
types, resources, transitions, retries and execution-input names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from workflows_kit import PLACE, TITANIC, XGBOOST, definition

from sagepipe.stepfunctions.asl import validate_definition
from sagepipe.stepfunctions.integrations import unsupported_reason
from workflows import abalone, experiments, titanic_inference, titanic_train
from workflows.export import LOCAL_BUILDS
from workflows.retail import workflow as retail
from workflows.states import FAILED

GOLDEN = Path(__file__).resolve().parents[1] / "ds_stepfunctions" / "golden"
BUILDS = {
    "titanic_train": lambda: titanic_train.build(PLACE, TITANIC),
    "titanic_inference": lambda: titanic_inference.build(PLACE),
    "abalone": lambda: abalone.build(PLACE, XGBOOST),
    "retail": lambda: retail.build(PLACE, XGBOOST, "prepare-fn", "check-fn"),
    "experiments": lambda: experiments.build(PLACE, XGBOOST, "pick-fn"),
}


def golden(name: str) -> dict[str, Any]:
    return json.loads((GOLDEN / f"{name}.asl.json").read_text())


def skeleton(machine: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What a chain is made of, without its request details: per state its type, resource,
    transitions, retries, and where the names it gives (job, model, endpoint) come from."""
    shape = {}
    for name, state in machine["States"].items():
        shape[name] = {
            "Type": state["Type"], "Resource": state.get("Resource"),
            "Next": state.get("Next"), "End": state.get("End"),
            "Default": state.get("Default"),
            "Choices": [choice["Next"] for choice in state.get("Choices", [])],
            "Retry": state.get("Retry"),
            "Names": {key: value for key, value in state.get("Parameters", {}).items()
                      if key.endswith("Name.$")}}
    return shape


def without_catches(machine: dict[str, Any]) -> dict[str, Any]:
    states = {name: {k: v for k, v in state.items() if k != "Catch"}
              for name, state in machine["States"].items() if name != FAILED}
    return {**machine, "States": states}


@pytest.mark.parametrize("name", BUILDS)
def test_definition_is_valid_for_the_local_step_functions(name):
    diagnostics, machine = validate_definition(json.dumps(definition(BUILDS[name]())),
                                               unsupported_reason)
    assert diagnostics == [] and machine is not None


@pytest.mark.parametrize("name", LOCAL_BUILDS)
def test_the_module_defaults_build_a_valid_definition(name):
    diagnostics, _ = validate_definition(json.dumps(definition(LOCAL_BUILDS[name]())),
                                         unsupported_reason)
    assert diagnostics == []


def test_abalone_is_the_notebooks_chain():
    ours, theirs = definition(BUILDS["abalone"]()), golden("abalone")
    assert skeleton(ours) == skeleton(theirs)
    assert list(ours["States"]) == ["Train Step", "Save model", "Transform Input Dataset",
                                    "Create Endpoint Config", "Create Endpoint"]
    train = ours["States"]["Train Step"]["Parameters"]
    assert train["HyperParameters"] == theirs["States"]["Train Step"]["Parameters"][
        "HyperParameters"]  # the notebook's, as strings
    assert [c["ContentType"] for c in train["InputDataConfig"]] == ["libsvm", "libsvm"]
    assert [m["Name"] for m in train["AlgorithmSpecification"]["MetricDefinitions"]] == [
        "train:rmse", "validation:rmse"]
    # The transform is the notebook's but for its paths (SageMaker sets SAGEMAKER_BATCH itself).
    transform = ours["States"]["Transform Input Dataset"]["Parameters"]
    notebook = theirs["States"]["Transform Input Dataset"]["Parameters"]
    assert set(transform) == set(notebook) and "Environment" not in transform
    assert transform["TransformInput"]["ContentType"] == "text/libsvm"


def test_titanic_train_is_hermiones_chain_with_the_jobs_reason_in_its_failure():
    ours, theirs = definition(BUILDS["titanic_train"]()), golden("hermione_train")
    assert skeleton(ours) == skeleton(theirs)
    for state in ("Preprocessing step", "TrainStep"):
        assert [(c["ErrorEquals"], c["Next"]) for c in ours["States"][state]["Catch"]] == [
            (["States.TaskFailed"], FAILED)]
    assert ours["States"][FAILED] == {"ErrorPath": "$['Failure']['Error']",
                                      "CausePath": "$['Failure']['Cause']", "Type": "Fail"}
    prepare = ours["States"]["Preprocessing step"]["Parameters"]
    assert prepare["AppSpecification"]["ContainerArguments"] == ["--step", "train"]
    # The training channels are the outputs of this run's processing job.
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri.$"]
                for c in ours["States"]["TrainStep"]["Parameters"]["InputDataConfig"]}
    assert channels["preprocessor"] == ("States.Format('s3://wf-bucket/wf/titanic/prepared/{}/"
                                        "preprocessor', $$.Execution.Input"
                                        "['PreprocessingJobName'])")
    outputs = {o["OutputName"]: o["S3Output"]["S3Uri.$"]
               for o in prepare["ProcessingOutputConfig"]["Outputs"]}
    assert all(outputs[name] == uri for name, uri in channels.items())


def test_retail_is_the_seeds_chain_with_a_numeric_gate():
    ours, theirs = definition(BUILDS["retail"]()), golden("retail")
    assert skeleton(without_catches(ours)) == skeleton(theirs)
    assert ours["States"]["Preparing data (Lambda)"]["Retry"] == [{
        "ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 15, "MaxAttempts": 2,
        "BackoffRate": 4.0}]
    (rule,) = ours["States"]["RMSE under threshold?"]["Choices"]
    assert rule == {"Variable": "$['Check']['Value']",
                    "NumericLessThanEqualsPath": "$['Check']['Threshold']",
                    "Next": "Batch inference (SageMaker)"}
    check = ours["States"]["Validating RMSE (Lambda)"]["Parameters"]["Payload"]
    assert check["MetricName"] == "validation:rmse"  # by name, not FinalMetricDataList[0]
    assert check["Threshold.$"] == "$$.Execution.Input['RmseThreshold']"
    weak = ours["States"]["Model too weak"]
    assert "$['Check']['Value']" in weak["CausePath"]
    assert "$['Check']['Threshold']" in weak["CausePath"]
    tasks = [n for n, s in ours["States"].items() if s["Type"] == "Task"]
    assert all(ours["States"][n]["Catch"][0]["Next"] == FAILED for n in tasks)


def test_experiments_trains_each_candidate_and_deploys_by_update():
    ours = definition(BUILDS["experiments"]())
    candidates = ours["States"]["Train candidates"]
    assert candidates["Type"] == "Map" and candidates["ItemsPath"] == "$.Candidates"
    train = candidates["Iterator"]["States"]["Train candidate"]["Parameters"]
    assert train["HyperParameters.$"] == "$['HyperParameters']"
    assert train["TrainingJobName.$"] == "$['JobName']"
    assert ours["States"]["Endpoint exists?"]["Next"] == "Update endpoint"
    assert ours["States"]["Endpoint exists?"]["Catch"][0]["Next"] == "Create endpoint"
    assert ours["States"]["Update endpoint"]["Resource"] == \
        "arn:aws:states:::sagemaker:updateEndpoint"


def test_inference_reads_the_model_from_the_training_job_not_a_path():
    ours = definition(BUILDS["titanic_inference"]())
    text = json.dumps(ours)
    assert "model.tar.gz" not in text and "/models" not in text
    find = ours["States"]["Find the trained model"]
    assert find["Resource"] == "arn:aws:states:::aws-sdk:sagemaker:describeTrainingJob"
    assert find["Parameters"] == {"TrainingJobName.$": "$$.Execution.Input['TrainingJobName']"}
    prepare = ours["States"]["Preprocessing step"]["Parameters"]
    assert prepare["AppSpecification"]["ImageUri.$"] == "$['Model']['Image']"
    assert prepare["ProcessingInputs"][1]["S3Input"]["S3Uri.$"] == \
        "States.ArrayGetItem($['Model']['PreprocessorChannel'], 0)"
    assert list(ours["States"]) == ["Find the trained model", "Preprocessing step",
                                    "Save model", "Batch transform", "Write predictions",
                                    FAILED]
