"""Local Lambda invoke latency, measured end to end through boto3 (sign, HTTP, the gateway, the
sandbox and back) on a local AWS of its own:

- cold: the first invocation after a configuration change (a new sandbox: process start and
  handler import), for a handler that imports nothing and one that imports boto3 (as most do);
- warm: the same sandbox answering again;
- warm through the local API Gateway: a signed GET to a REST API whose route invokes the
  function (the proxy event in, the proxy response out).

Median and p90 of N runs each:

    .venv/bin/python bench/lambda.py [--runs 20]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import httpx

from sagepipe.clients import SigV4, client
from sagepipe.config import Settings
from sagepipe.processes import free_port
from sagepipe.server import start_background, stop
from sagepipe.sigv4 import sign

HANDLERS = {
    "nothing imported": "def handler(event, context):\n    return {'statusCode': 200, "
                        "'body': 'ok'}\n",
    "boto3 imported": "import boto3\n\ndef handler(event, context):\n    return "
                      "{'statusCode': 200, 'body': 'ok'}\n",
}
ROLE = "arn:aws:iam::000000000000:role/bench"


def package(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def summary(label: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[max(0, round(0.9 * len(ordered)) - 1)]
    return f"{label:<44} median {statistics.median(ordered):7.1f} ms   p90 {p90:7.1f} ms   " \
           f"(n={len(ordered)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory(prefix="sagepipe-bench-lambda-") as home:
        settings = Settings(home=Path(home), port=free_port())
        start_background(settings)
        try:
            lam = client(settings, "lambda")
            print(f"local AWS on port {settings.port}, Python {sys.version.split()[0]}")
            for label, source in HANDLERS.items():
                name = label.replace(" ", "-")
                lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE,
                                    Handler="app.handler", Code={"ZipFile": package(source)})
                cold = []
                for run in range(runs):
                    lam.update_function_configuration(
                        FunctionName=name, Environment={"Variables": {"RUN": str(run)}})
                    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
                    cold.append(timed(lambda n=name: lam.invoke(FunctionName=n)))
                warm = [timed(lambda n=name: lam.invoke(FunctionName=n)) for _ in range(runs)]
                print(summary(f"cold invoke, {label}", cold))
                print(summary(f"warm invoke, {label}", warm))
            print(summary("warm GET through API Gateway -> Lambda", through_api(settings, runs)))
        finally:
            stop(settings)


def through_api(settings: Settings, runs: int) -> list[float]:
    """Warm latency of a signed GET on a local REST API in front of the boto3 handler."""
    uri = ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:"
           "us-east-1:000000000000:function:boto3-imported/invocations")
    definition = {"swagger": "2.0", "paths": {"/ping": {"get": {
        "security": [{"sigv4": []}],
        "x-amazon-apigateway-integration": {"type": "aws_proxy", "httpMethod": "POST",
                                            "uri": uri}}}},
        "securityDefinitions": {"sigv4": {"type": "apiKey", "name": "Authorization",
                                          "in": "header",
                                          "x-amazon-apigateway-authtype": "awsSigv4"}}}
    api = httpx.put(f"{settings.endpoint_url}/_sagepipe/serverless/restapis/bench",
                    json={"StageName": "api", "DefinitionBody": definition},
                    auth=SigV4(settings), trust_env=False, timeout=60).json()
    url = api["Url"] + "ping"
    credentials = settings.credentials
    with httpx.Client(trust_env=False) as http:
        def call() -> None:
            headers = sign("GET", url, b"", credentials.access_key_id,
                           credentials.secret_access_key, settings.region)
            assert http.get(url, headers=headers).status_code == 200

        call()  # warm the sandbox
        return [timed(call) for _ in range(runs)]


if __name__ == "__main__":
    main()
