"""What ds_stepfunctions emits for the seed chains is what the original SDK 2.3.0 emitted."""

from __future__ import annotations

import json

import pytest
import yaml
from sfn_kit import GOLDEN, abalone, golden_bytes, hermione_train, retail

pytestmark = pytest.mark.aws_unit  # needs no local AWS: the UnitTests action runs it


@pytest.mark.parametrize("name, build", [("abalone", abalone),
                                         ("hermione_train", hermione_train),
                                         ("retail", retail)])
def test_definition_equals_the_golden_file_byte_for_byte(name, build):
    golden = (GOLDEN / f"{name}.asl.json").read_text()
    assert golden_bytes(build()) == golden


def test_cloudformation_export_equals_the_golden_template_byte_for_byte():
    template = abalone().get_cloudformation_template()
    assert template == (GOLDEN / "abalone.cfn.yaml").read_text()
    resource = yaml.safe_load(template)["Resources"]["StateMachineComponent"]
    assert resource["Type"] == "AWS::StepFunctions::StateMachine"
    assert json.loads(resource["Properties"]["DefinitionString"]) == json.loads(
        (GOLDEN / "abalone.asl.json").read_text())


def test_native_key_order_is_the_old_sdks():
    """Fields in the order given, then Type, Next/End, Retry, Catch; states in visit order."""
    states = json.loads(retail().definition.to_json())["States"]
    assert list(states) == ["Preparing data (Lambda)", "Training (SageMaker)",
                            "Save model (SageMaker)", "Validating RMSE (Lambda)",
                            "RMSE under threshold?", "Model too weak",
                            "Batch inference (SageMaker)"]
    assert list(states["Preparing data (Lambda)"]) == ["Parameters", "Resource", "Type", "Next",
                                                       "Retry"]
    assert list(states["RMSE under threshold?"]) == ["Type", "Choices", "Default"]
    assert list(states["RMSE under threshold?"]["Choices"][0]) == [
        "Variable", "NumericLessThanEquals", "Next"]
