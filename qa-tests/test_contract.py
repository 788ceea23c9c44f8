"""The endpoint keeps the model's contract: JSON and CSV in and out, one prediction per row in
order, and bad input answered with a 4xx (a ModelError carrying the original 4xx status
through InvokeEndpoint), never a 5xx."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from qa_kit import CSV, JSON

smoke = pytest.mark.smoke
PASSENGERS = [{"Pclass": 1, "Sex": "female", "Age": 29}, {"Pclass": 3, "Sex": "male", "Age": None},
              {"Pclass": 2, "Sex": "male"}]
CSV_ROWS = "1,female,29\n3,male,\n2,male,40.5\n"


def invoke(runtime, endpoint, body, content_type, accept) -> tuple[str, str]:
    reply = runtime.invoke_endpoint(EndpointName=endpoint, Body=body, ContentType=content_type,
                                    Accept=accept)
    return reply["ContentType"], reply["Body"].read().decode()


def check_json(content_type, body, count):
    assert content_type.startswith(JSON), content_type
    answer = json.loads(body)
    assert set(answer) == {"predictions", "model_version"}
    assert isinstance(answer["model_version"], str) and answer["model_version"]
    assert len(answer["predictions"]) == count
    for prediction in answer["predictions"]:
        assert set(prediction) == {"survived", "probability"}
        assert prediction["survived"] in (0, 1)
        assert 0.0 <= prediction["probability"] <= 1.0
    return answer["predictions"]


def check_csv(content_type, body, count):
    assert content_type.startswith(CSV), content_type
    lines = body.strip().splitlines()
    assert len(lines) == count
    for line in lines:
        label, probability = line.split(",")
        assert label in ("0", "1") and 0.0 <= float(probability) <= 1.0
    return lines


@smoke
def test_json_in_json_out(runtime, endpoint):
    check_json(*invoke(runtime, endpoint, json.dumps({"instances": PASSENGERS}), JSON, JSON),
               len(PASSENGERS))


@smoke
def test_csv_in_csv_out(runtime, endpoint):
    check_csv(*invoke(runtime, endpoint, CSV_ROWS, CSV, CSV), 3)


def test_csv_with_a_header_in_json_out(runtime, endpoint):
    check_json(*invoke(runtime, endpoint, "Pclass,Sex,Age\n" + CSV_ROWS, CSV, JSON), 3)


def test_both_formats_give_the_same_predictions(runtime, endpoint):
    as_json = check_json(*invoke(runtime, endpoint, json.dumps({"instances": PASSENGERS}),
                                 JSON, JSON), 3)
    as_csv = check_csv(*invoke(runtime, endpoint, "1,female,29\n3,male,\n2,male,\n", CSV, CSV), 3)
    assert [str(p["survived"]) for p in as_json] == [line.split(",")[0] for line in as_csv]


def test_predictions_follow_the_order_of_the_rows(runtime, endpoint):
    forward = check_json(*invoke(runtime, endpoint, json.dumps({"instances": PASSENGERS}),
                                 JSON, JSON), 3)
    backward = check_json(*invoke(runtime, endpoint, json.dumps({"instances": PASSENGERS[::-1]}),
                                  JSON, JSON), 3)
    assert backward == forward[::-1]


BAD_INPUTS = {
    "Pclass out of range": (JSON, '{"instances": [{"Pclass": 4, "Sex": "female", "Age": 3}]}'),
    "unknown Sex": (JSON, '{"instances": [{"Pclass": 1, "Sex": "robot", "Age": 3}]}'),
    "negative Age": (JSON, '{"instances": [{"Pclass": 1, "Sex": "male", "Age": -4}]}'),
    "missing Sex": (JSON, '{"instances": [{"Pclass": 1}]}'),
    "malformed JSON": (JSON, '{"instances": [{"Pclass": 1,'),
    "no instances": (JSON, "{}"),
    "CSV row too short": (CSV, "1,female\n"),
    "CSV text for a number": (CSV, "first,female,30\n"),
    "unsupported content type": ("application/xml", "<passenger/>"),
}


@pytest.mark.parametrize("case", [pytest.param(c, marks=smoke) if c == "unknown Sex" else c
                                  for c in BAD_INPUTS])
def test_bad_input_is_a_4xx_not_a_5xx(runtime, endpoint, case):
    content_type, body = BAD_INPUTS[case]
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(EndpointName=endpoint, Body=body, ContentType=content_type,
                                Accept=JSON)
    error = caught.value.response
    assert error["Error"]["Code"] == "ModelError", error["Error"]
    assert 400 <= int(error["OriginalStatusCode"]) < 500, error
    assert error.get("OriginalMessage"), "the model says what is wrong"


def test_an_answer_format_it_cannot_give_is_a_4xx(runtime, endpoint):
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(EndpointName=endpoint, Body=CSV_ROWS, ContentType=CSV,
                                Accept="image/png")
    assert caught.value.response["Error"]["Code"] == "ModelError"
    assert int(caught.value.response["OriginalStatusCode"]) == 406
