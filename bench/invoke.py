"""InvokeEndpoint through the gateway: what reaching the model server costs, per isolation.

Starts a local AWS for each SAGEPIPE_ISOLATION level asked for (`full`: the model server in a
network namespace of its own on 8080, reached through its connection broker; `mount`: as before
network namespaces, the server on a host port named by SAGEMAKER_BIND_TO_PORT), deploys the same
trivial echo server behind an endpoint (so that the server costs little and the path to it
shows), then sends signed InvokeEndpoint calls from `--connections` concurrent clients for
`--duration` seconds and prints req/s and p50/p99 latency. Results go to
bench/results/invoke.json.

    .venv/bin/python bench/invoke.py [--duration 10] [--connections 8] [--levels mount full]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sagepipe.clients import client, internal
from sagepipe.config import Settings
from sagepipe.processes import free_port
from sagepipe.server import start_background, stop

RESULTS = Path(__file__).resolve().parent / "results" / "invoke.json"
ECHO = """#!/usr/bin/env python3
import http.server, os
class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def log_message(self, *args): pass
    def answer(self, body):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self): self.answer(b"")
    def do_POST(self): self.answer(self.rfile.read(int(self.headers["Content-Length"])))
port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
http.server.ThreadingHTTPServer((os.environ.get("MODEL_SERVER_HOST", "0.0.0.0"), port),
                                Echo).serve_forever()
"""


def deploy(settings: Settings, image_dir: Path) -> str:
    uri = "000000000000.dkr.ecr.us-east-1.amazonaws.com/bench-echo:1"
    internal(settings, "PUT", "images", {"uri": uri, "directory": str(image_dir)})
    sm = client(settings, "sagemaker")
    sm.create_model(ModelName="echo", PrimaryContainer={"Image": uri},
                    ExecutionRoleArn="arn:aws:iam::000000000000:role/bench")
    sm.create_endpoint_config(EndpointConfigName="echo", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": "echo", "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName="echo", EndpointConfigName="echo")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="echo",
                                              WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    return "echo"


def signed(settings: Settings, endpoint: str) -> tuple[str, dict[str, str], bytes]:
    """One signed InvokeEndpoint request, sent again by every client (its date stays valid
    for the run)."""
    url = f"{settings.endpoint_url}/endpoints/{endpoint}/invocations"
    body = b"3,male,22\n"
    request = AWSRequest("POST", url, data=body, headers={"Content-Type": "text/csv"})
    creds = settings.credentials
    SigV4Auth(Credentials(creds.access_key_id, creds.secret_access_key), "sagemaker",
              settings.region).add_auth(request)
    return url, dict(request.headers.items()), body


async def load(url: str, headers: dict[str, str], body: bytes, seconds: float,
               connections: int) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds

    async def worker(http: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.monotonic() < deadline:
            started = time.perf_counter()
            reply = await http.post(url, content=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            errors += reply.status_code != 200

    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(limits=limits, trust_env=False, timeout=30) as http:
        await asyncio.gather(*(worker(http) for _ in range(connections)))
    latencies.sort()
    return {"requests_per_second": round(len(latencies) / seconds, 1),
            "p50_ms": round(statistics.median(latencies) * 1000, 2),
            "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
            "errors": errors}


def measure(level: str, seconds: float, connections: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as work:
        image = Path(work) / "echo"
        image.mkdir()
        (image / "serve").write_text(ECHO)
        (image / "serve").chmod(0o755)
        settings = Settings(home=Path(work) / "home", port=free_port())
        os.environ["SAGEPIPE_ISOLATION"] = level
        start_background(settings)
        try:
            url, headers, body = signed(settings, deploy(settings, image))
            asyncio.run(load(url, headers, body, 2, connections))  # warm up
            return asyncio.run(load(url, headers, body, seconds, connections))
        finally:
            stop(settings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--levels", nargs="+", default=["mount", "full"])
    args = parser.parse_args()
    results = {}
    for level in args.levels:
        results[level] = measure(level, args.duration, args.connections)
        print(f"{level:>6}: {json.dumps(results[level])}", flush=True)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"connections": args.connections,
                                   "duration_s": args.duration, **results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
