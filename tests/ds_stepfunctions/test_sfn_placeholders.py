"""Placeholders in every field, and the error for one joined into a string (the old SDK's
issues #39, #71, #85, #94, #117, #139: S3 URIs, output path, image, container arguments)."""

from __future__ import annotations

import pytest
from sfn_kit import ROLE, xgb_request

from ds_stepfunctions.inputs import Array, ExecutionInput, Format, StepInput
from ds_stepfunctions.steps import Pass, ProcessingStep, Task, TrainingStep, TransformStep

pytestmark = pytest.mark.aws_unit  # needs no local AWS: the UnitTests action runs it


def test_paths_of_execution_and_step_inputs():
    ei = ExecutionInput()
    assert ei["JobName"].to_jsonpath() == "$$.Execution.Input['JobName']"
    assert ei["a"]["b"][0].to_jsonpath() == "$$.Execution.Input['a']['b'][0]"
    assert StepInput()["Payload"]["rmse"].to_jsonpath() == "$['Payload']['rmse']"
    assert Pass("p").output()["x"].to_jsonpath() == "$['x']"
    assert ei["JobName"] is ei["JobName"]


def test_placeholders_in_every_field_of_a_training_request():
    """Image, S3 URIs, output path, instance type, hyperparameters: all from the input."""
    ei = ExecutionInput(schema={"Image": str, "Train": str, "Out": str, "Type": str, "Eta": str,
                                "Job": str, "Key": str})
    request = xgb_request()
    request["AlgorithmSpecification"]["TrainingImage"] = ei["Image"]
    request["ResourceConfig"]["InstanceType"] = ei["Type"]
    request["OutputDataConfig"]["KmsKeyId"] = ei["Key"]
    step = TrainingStep("Train", estimator=request, job_name=ei["Job"], data=ei["Train"],
                        hyperparameters={"eta": ei["Eta"], "depth": 3},
                        output_data_config_path=ei["Out"])
    params = step.to_dict()["Parameters"]
    assert params["AlgorithmSpecification"]["TrainingImage.$"] == "$$.Execution.Input['Image']"
    assert params["ResourceConfig"]["InstanceType.$"] == "$$.Execution.Input['Type']"
    assert params["OutputDataConfig"] == {"S3OutputPath.$": "$$.Execution.Input['Out']",
                                          "KmsKeyId.$": "$$.Execution.Input['Key']"}
    assert params["InputDataConfig"] == [{"DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", "S3Uri.$": "$$.Execution.Input['Train']",
        "S3DataDistributionType": "FullyReplicated"}}, "ChannelName": "training"}]
    assert params["HyperParameters"] == {"eta.$": "$$.Execution.Input['Eta']", "depth": "3"}
    assert params["TrainingJobName.$"] == "$$.Execution.Input['Job']"


def test_placeholders_in_container_arguments_and_nested_lists():
    ei = ExecutionInput()
    processor = {"AppSpecification": {"ImageUri": ei["Image"]},
                 "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1,
                                                           "InstanceType": "ml.m5.large",
                                                           "VolumeSizeInGB": 30}},
                 "RoleArn": ROLE}
    step = ProcessingStep("Prep", processor=processor, job_name="prep-1",
                          container_arguments=["--mode", ei["Mode"], "--n", "3"],
                          container_entrypoint=ei["Entrypoint"])
    app = step.to_dict()["Parameters"]["AppSpecification"]
    assert app == {
        "ImageUri.$": "$$.Execution.Input['Image']",
        "ContainerArguments.$": "States.Array('--mode', $$.Execution.Input['Mode'], '--n', '3')",
        "ContainerEntrypoint.$": "$$.Execution.Input['Entrypoint']"}
    nested = Pass("p", parameters={"grid": [["a", ei["b"]], ["c"]],
                                   "objects": [{"name": ei["n"]}]}).to_dict()["Parameters"]
    assert nested == {
        "grid.$": "States.Array(States.Array('a', $$.Execution.Input['b']), States.Array('c'))",
        "objects": [{"name.$": "$$.Execution.Input['n']"}]}


@pytest.mark.parametrize("join", [
    lambda p: "s3://bucket/" + p,
    lambda p: p + "/output",
    lambda p: f"s3://bucket/{p}",
    lambda p: "s3://bucket/%s" % p,  # noqa: UP031 - the % join is what is tested
    lambda p: "s3://bucket/{}".format(p),  # noqa: UP032 - so is format()
])
def test_a_placeholder_joined_into_a_string_is_refused_with_the_fix(join):
    ei = ExecutionInput()
    request = xgb_request()
    request["OutputDataConfig"]["S3OutputPath"] = join(ei["Run"])
    with pytest.raises(TypeError) as error:
        TrainingStep("Train", estimator=request, job_name="j")
    message = str(error.value)
    assert "Train: Parameters.OutputDataConfig.S3OutputPath" in message
    assert "States.Format" in message
    assert "ds_stepfunctions.inputs.Format(" in message
    assert "$$.Execution.Input['Run']" in message
    assert "object at 0x" not in message


def test_the_suggested_format_is_the_one_that_works():
    ei = ExecutionInput()
    with pytest.raises(TypeError) as error:
        Pass("p", parameters={"Uri": f"s3://b/{ei['Run']}/out"})
    assert ('"Uri.$": "States.Format(\'s3://b/{}/out\', $$.Execution.Input[\'Run\'])"'
            in str(error.value))
    fixed = Pass("p", parameters={"Uri": Format("s3://b/{}/out", ei["Run"])})
    assert fixed.to_dict()["Parameters"] == {
        "Uri.$": "States.Format('s3://b/{}/out', $$.Execution.Input['Run'])"}


def test_joined_placeholders_are_caught_in_every_kind_of_field():
    ei = ExecutionInput()
    with pytest.raises(TypeError, match="p: OutputPath"):
        Pass("p", output_path="$." + ei["k"])
    with pytest.raises(TypeError, match=r"t: Parameters.TransformOutput.S3OutputPath"):
        TransformStep("t", transformer={"TransformOutput": {"S3OutputPath": f"s3://b/{ei['k']}"},
                                        "TransformResources": {"InstanceCount": 1,
                                                               "InstanceType": "ml.m5.large"}},
                      job_name="j", model_name="m", data="s3://b/in")
    with pytest.raises(TypeError, match=r"ContainerArguments\[1\]"):
        Pass("p", parameters={"ContainerArguments": ["--x", "a" + ei["k"], ei["y"]]})
    with pytest.raises(TypeError, match=r"Parameters\.Payload\.Name"):
        Task("t", resource="arn:aws:states:::lambda:invoke",
             parameters={"Payload": {"Name": "job-" + ei["k"]}})


def test_intrinsics_escape_their_literals():
    ei = ExecutionInput()
    assert Format("{}-it's", ei["a"]).to_jsonpath() == (
        "States.Format('{}-it\\'s', $$.Execution.Input['a'])")
    assert Array("a{b}", 1, None, True).to_jsonpath() == "States.Array('a\\{b\\}', 1, null, true)"
    with pytest.raises(ValueError, match="has 2"):
        Format("{}/{}", ei["a"])
    # An escaped brace is no hole; an escaped backslash before one leaves it a hole.
    assert Format(r"\{\}{}", ei["a"]).to_jsonpath() == (
        r"States.Format('\{\}{}', $$.Execution.Input['a'])")
    assert Format(r"C:\\{}", ei["a"]).to_jsonpath() == (
        r"States.Format('C:\\{}', $$.Execution.Input['a'])")


def test_the_suggested_format_works_after_a_backslash_too():
    ei = ExecutionInput()
    with pytest.raises(TypeError) as error:
        Pass("p", parameters={"Dir": "C:\\" + ei["a"]})
    # The message shows the template's repr: 'C:\\\\{}' is C:\\{} (an escaped backslash, a hole).
    assert r"inputs.Format('C:\\\\{}', <placeholder $$.Execution.Input['a']>)" in str(error.value)
    fixed = Pass("p", parameters={"Dir": Format(r"C:\\{}", ei["a"])})
    assert fixed.to_dict()["Parameters"] == {
        "Dir.$": r"States.Format('C:\\{}', $$.Execution.Input['a'])"}


def test_schema_validation():
    ei = ExecutionInput(schema={"JobName": str, "Count": int, "Rate": float,
                                "Hyper": {"eta": float}})
    assert ei.validate({"JobName": "j", "Count": 2, "Rate": 1, "Hyper": {"eta": 0.1}}).valid
    result = ei.validate({"JobName": 3, "Count": True, "Hyper": {}})
    assert not result.valid
    assert result.keys_missing == ["Rate", "Hyper.eta"]
    assert [(k, want, got) for k, want, got in result.keys_type_mismatch] == [
        ("JobName", str, int), ("Count", int, bool)]
    assert ei.get_schema_as_json() == (
        '{"JobName": "str", "Count": "int", "Rate": "float", "Hyper": {"eta": "float"}}')
    with pytest.raises(ValueError, match="not in the schema"):
        _ = ei["Typo"]
    loose = ExecutionInput()
    loose.get("a", str)
    with pytest.raises(ValueError, match="type"):
        loose.get("a", int)
    untyped = ExecutionInput()
    _ = untyped["any"]
    assert untyped.validate({"any": 5}).valid and not untyped.validate({}).valid
    assert ei.contains(ei["Hyper"]["eta"]) and not ei.contains(ExecutionInput()["x"])
    # A leaf may be a whole object, passed on as it is (titanic_train's HyperParameters).
    whole = ExecutionInput(schema={"JobName": str, "HyperParameters": dict})
    assert whole.validate({"JobName": "j", "HyperParameters": {"max_depth": "6"}}).valid
    assert whole.validate({"JobName": "j", "HyperParameters": {}}).valid
    assert whole.validate({"JobName": "j", "HyperParameters": "6"}).keys_type_mismatch == [
        ("HyperParameters", dict, str)]
    assert whole.validate({"JobName": "j"}).keys_missing == ["HyperParameters"]
