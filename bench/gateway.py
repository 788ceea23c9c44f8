"""InvokeEndpoint through the local AWS beside the model server alone: same model, same payload.

Trains the example model (bench/serving.py's training), starts `model/serve` with it on a host
port ("direct": the model server alone), and for each isolation level asked for a fresh local
AWS with an endpoint serving the same model.tar.gz (`full`, the default: the model server on
8080 in a network namespace of its own, reached through its connection broker; `mount`: as
before network namespaces, on a host port). `--baseline DIR` adds one more local AWS whose
gateway runs the sagepipe of another source tree (`git worktree add /tmp/main main`): before
and after measured in the same rounds, under the same load. Checks that all answer the same,
then loads each in turn with wrk (1-row CSV, `--connections`): the model server at
/invocations, and InvokeEndpoint through the gateway, signed with SigV4 as boto3 signs it. The
request is signed once per round and replayed: a signature stays valid for 15 minutes and
neither AWS nor the local AWS refuses it again within them, so the load generator does no
signing of its own (wrk, in C, is not the limit: the model server alone takes 5x more from it).

Prints req/s, p50 and p99 (median of `--rounds`), the gateway's share of the direct throughput,
and the gateway process's CPU time per invocation (user + system, from /proc): the figure
other work on a shared machine moves least. Results go to bench/results/gateway.json.

    .venv/bin/python bench/gateway.py [--duration 10] [--connections 8] [--rounds 3]
                                      [--levels full mount] [--baseline DIR]

Needs wrk (apt-get install -y wrk).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import chdir, contextmanager
from pathlib import Path

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import WaiterError
from serving import PAYLOAD, Stack, free_port, load, post, start, stop, train_model

from sagepipe import instances
from sagepipe.clients import client, internal
from sagepipe.config import Settings
from sagepipe.server import start_background
from sagepipe.server import stop as stop_local_aws

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "gateway.json"
IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/titanic:bench"
ENDPOINT = "titanic"
METRICS = ("req_per_s", "p50_ms", "p99_ms", "gateway_us")


def archive(model_dir: Path, target: Path) -> Path:
    """model.tar.gz as a training job packs it."""
    with tarfile.open(target, "w:gz") as tar:
        for item in sorted(model_dir.iterdir()):
            tar.add(item, arcname=item.name)
    return target


def deploy(settings: Settings, model_archive: Path, environment: dict[str, str]) -> None:
    """The example image and the trained model behind endpoint ENDPOINT, InService."""
    internal(settings, "PUT", "images", {"uri": IMAGE, "directory": str(REPO / "model")})
    s3 = client(settings, "s3")
    s3.create_bucket(Bucket="bench")
    s3.upload_file(str(model_archive), "bench", "model.tar.gz")
    sm = client(settings, "sagemaker")
    sm.create_model(ModelName=ENDPOINT, ExecutionRoleArn="arn:aws:iam::000000000000:role/bench",
                    PrimaryContainer={"Image": IMAGE, "Environment": environment,
                                      "ModelDataUrl": "s3://bench/model.tar.gz"})
    sm.create_endpoint_config(EndpointConfigName=ENDPOINT, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": ENDPOINT, "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=ENDPOINT)
    try:
        sm.get_waiter("endpoint_in_service").wait(EndpointName=ENDPOINT,
                                                  WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    except WaiterError:
        sys.exit("the endpoint did not come up: " + sm.describe_endpoint(
            EndpointName=ENDPOINT).get("FailureReason", "(no reason)"))


def signed_script(settings: Settings, path: Path) -> Path:
    """A wrk script sending one InvokeEndpoint request, signed now as boto3 signs it."""
    request = AWSRequest("POST", f"{settings.endpoint_url}/endpoints/{ENDPOINT}/invocations",
                         data=PAYLOAD.encode(), headers={"Content-Type": "text/csv"})
    credentials = settings.credentials
    SigV4Auth(Credentials(credentials.access_key_id, credentials.secret_access_key),
              "sagemaker", settings.region).add_auth(request)
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(PAYLOAD)}"]
    lines += [f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}"
              for name, value in request.headers.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def invoke(settings: Settings, body: str) -> str:
    reply = client(settings, "sagemaker-runtime").invoke_endpoint(
        EndpointName=ENDPOINT, Body=body.encode(), ContentType="text/csv")
    return reply["Body"].read().decode()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def gateway_load(settings: Settings, script: Path, seconds: int,
                 connections: int) -> dict[str, float]:
    """One wrk run of InvokeEndpoint, with the gateway's CPU time per invocation."""
    instance = instances.of_home(settings.home)
    assert instance is not None
    url = f"{settings.endpoint_url}/endpoints/{ENDPOINT}"
    load(url, script, 2, connections)  # warm-up
    before = cpu_seconds(instance.pid)
    run = load(url, script, seconds, connections)
    return {**run, "gateway_us": (cpu_seconds(instance.pid) - before) * 1e6 / run["requests"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="wrk runs per target (median)")
    parser.add_argument("--levels", nargs="+", default=["full"], choices=["full", "mount"],
                        help="isolation levels of the endpoint's model server (SAGEPIPE_ISOLATION)")
    parser.add_argument("--baseline", type=Path, metavar="DIR",
                        help="a source tree whose sagepipe serves one more local AWS (level full)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("missing benchmark tool; install it with:\n  apt-get install -y wrk")
        return 2
    if args.baseline and not (args.baseline / "sagepipe" / "__init__.py").is_file():
        print(f"{args.baseline} is no sagepipe source tree (no sagepipe/__init__.py)")
        return 2

    work = Path(tempfile.mkdtemp(prefix="sagepipe-bench-gateway-"))
    direct = Stack("model server alone (model/serve, 2 workers)",
                   f"http://127.0.0.1:{free_port()}", work / "serve.log")
    names = {"direct": direct.name,
             "full": "InvokeEndpoint, server in its network namespace (default)",
             "mount": "InvokeEndpoint, server on a host port (SAGEPIPE_ISOLATION=mount)",
             "baseline": f"InvokeEndpoint, the gateway of {args.baseline}"}
    targets = [(level, level, None) for level in args.levels]
    if args.baseline:
        targets.append(("baseline", "full", args.baseline.resolve()))
    homes: dict[str, Settings] = {}
    runs: dict[str, list[dict[str, float]]] = {"direct": []}
    try:
        print(f"training the model in {work} ...", flush=True)
        _, model_dir = train_model(work)
        start(direct, REPO / "model" / "serve", SM_MODEL_DIR=model_dir,
              SAGEMAKER_BIND_TO_PORT=direct.url.rpartition(":")[2],
              MODEL_SERVER_HOST="127.0.0.1", SAGEMAKER_MODEL_SERVER_WORKERS=os.cpu_count() or 1)
        model_archive = archive(model_dir, work / "model.tar.gz")
        for key, level, tree in targets:
            homes[key] = Settings(home=work / f"home-{key}", port=free_port())
            # `python -m` puts the working directory first on sys.path: the tree's sagepipe
            # is the one imported when run from there.
            with environment(SAGEPIPE_ISOLATION=level), chdir(tree or Path.cwd()):
                start_background(homes[key])
            # On a host port the server runs as the host's user: the image's `model` user
            # exists only in its own root (levels `full`).
            deploy(homes[key], model_archive,
                   {"MODEL_SERVER_USER": ""} if level == "mount" else {})
            if invoke(homes[key], PAYLOAD) != post(direct.url, PAYLOAD):
                sys.exit(f"the endpoint ({names[key]}) and the model server answer differently")
            runs[key] = []
        print(f"payload {PAYLOAD!r}, {args.connections} connections, endpoints and server agree",
              flush=True)
        plain = work / "post.lua"
        plain.write_text(f'wrk.method = "POST"\nwrk.body = {json.dumps(PAYLOAD)}\n'
                         'wrk.headers["Content-Type"] = "text/csv"\n')
        for _ in range(args.rounds):
            load(direct.url, plain, 2, args.connections)  # warm-up
            runs["direct"].append(load(direct.url, plain, args.duration, args.connections))
            for key, settings in homes.items():
                script = signed_script(settings, work / f"signed-{key}.lua")
                runs[key].append(gateway_load(settings, script, args.duration, args.connections))
    finally:
        for settings in homes.values():
            stop_local_aws(settings)
        stop(direct)
        shutil.rmtree(work, ignore_errors=True)

    results = {key: {metric: statistics.median(run.get(metric, 0) for run in values)
                     for metric in METRICS} for key, values in runs.items()}
    print(f"\n{'target':<62}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'share':>7}"
          f"{'gateway CPU/call':>18}")
    for key, result in results.items():
        share = result["req_per_s"] / results["direct"]["req_per_s"]
        cpu = f"{result['gateway_us']:.0f} us" if key != "direct" else "-"
        print(f"{names[key]:<62}{result['req_per_s']:>8.0f}{result['p50_ms']:>8.2f}"
              f"{result['p99_ms']:>8.2f}{share:>7.0%}{cpu:>18}")
        for run in runs[key]:
            if run["non_2xx"] or run["socket_errors"]:
                print(f"  warning: {run['non_2xx']} non-2xx, socket errors {run['socket_errors']}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"payload": PAYLOAD, "connections": args.connections,
                                   "duration_s": args.duration, "baseline": str(args.baseline),
                                   "rounds": runs, "median": results}, indent=2) + "\n")
    return 0


@contextmanager
def environment(**variables: str | None) -> Iterator[None]:
    """`variables` set (None: unset) in os.environ for the block, as they were after it."""
    saved = {name: os.environ.get(name) for name in variables}
    try:
        set_variables(variables)
        yield
    finally:
        set_variables(saved)


def set_variables(variables: dict[str, str | None]) -> None:
    for name, value in variables.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


if __name__ == "__main__":
    sys.exit(main())
