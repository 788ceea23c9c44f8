"""Prod serves this release, and the API in front of it answers with it (smoke tests).

SageMaker's canary deployment rolls back on its alarms by itself: the endpoint returns to
InService on its previous configuration, and the deploy action may well report success. What
settles it is the model prod answers with: the training job name of this release
(`--model-version`). The API (`--api-url`) is called as its users call it, SigV4-signed
(IAM auth), and must answer with the same model; unsigned, API Gateway refuses the call."""

from __future__ import annotations

import pytest
from qa_kit import call_api

smoke = pytest.mark.smoke

PASSENGERS = [{"Pclass": 1, "Sex": "female", "Age": 29}, {"Pclass": 3, "Sex": "male", "Age": 22}]
# Every call must answer with the release: after a completed deployment, no fleet serves any
# other model (a canary still baking, or rolled back, would answer some calls with the old one).
CALLS = 10


@smoke
def test_the_endpoint_serves_this_release(runtime, endpoint, model_version, metrics):
    served = {metrics.invoke(runtime, endpoint, PASSENGERS[:1])["model_version"]
              for _ in range(CALLS)}
    assert served == {model_version}, (
        f"endpoint {endpoint} serves model {', '.join(sorted(served))}, not this release's "
        f"{model_version}: the deployment was rolled back (or is still in progress); see "
        "Docs/runbook.md, 'A canary that rolled back'")


@smoke
def test_the_api_answers_signed_calls_with_this_release(api_url, endpoint, model_version):
    answer = call_api(api_url + "predict", "POST", {"records": PASSENGERS})
    assert answer.status == 200, f"POST {api_url}predict answered {answer.status}: {answer.body}"
    assert len(answer.body["predictions"]) == len(PASSENGERS)
    assert (answer.body["endpoint"], answer.body["model_version"]) == (endpoint, model_version)
    health = call_api(api_url + "health")
    assert (health.status, health.body.get("endpoint_status")) == (200, "InService"), health


@smoke
def test_the_api_refuses_unsigned_calls(api_url):
    answer = call_api(api_url + "predict", "POST", {"records": PASSENGERS}, sign=False)
    assert answer.status == 403, f"an unsigned call got {answer.status}: {answer.body}"
