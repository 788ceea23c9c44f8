"""Serving benchmark: the classic SageMaker BYO stack vs `model/serve`, same model and payload.

Trains the Titanic model with the real `prepare` and `train` entry points (on
tests/data/titanic_train.csv), starts both stacks side by side on 127.0.0.1, checks that
they predict the same labels, then loads each in turn with wrk (1-row CSV, 8 connections) and
prints req/s, p50 and p99 latency and the ratio. Beside them, the in-process limit of the
served runtime: `model/serve`'s own parse + predict + encode of the same payload in a loop, one
process per worker, no HTTP: how close the server gets to what the model costs. Results also
go to bench/results/serving.json.

    .venv/bin/python bench/serving.py [--duration 10] [--connections 8] [--rounds 1]

Needs wrk and nginx (apt-get install -y wrk nginx) and the `bench` extra
(pip install -e '.[bench]': flask, gunicorn, gevent, pandas).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing
import os
import pickle
import re
import shutil
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from sagepipe.processes import terminate

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "model"
BYO = Path(__file__).resolve().parent / "byo"
TEST_DATA = REPO / "tests" / "data"
PAYLOAD = "3,male,22\n"

sys.path.insert(0, str(MODEL))  # the BYO forest is fitted by the model's own training code
from titanic.dataset import read_split  # noqa: E402
from titanic.payload import CSV, decode, encode, parse_csv  # noqa: E402
from titanic.preprocessor import Preprocessor  # noqa: E402
from titanic.runtime import Predictor  # noqa: E402
from titanic.serve import SINGLE_THREADED  # noqa: E402
from titanic.train import fit_forest  # noqa: E402


@dataclass
class Stack:
    name: str
    url: str
    log: Path
    process: subprocess.Popen | None = None


def missing_tools() -> list[str]:
    problems = []
    absent = [tool for tool in ("wrk", "nginx") if shutil.which(tool, path=env()["PATH"]) is None]
    if absent:
        problems.append(f"apt-get install -y {' '.join(absent)}")
    modules = [m for m in ("flask", "gunicorn", "gevent", "pandas")
               if importlib.util.find_spec(m) is None]
    if modules:
        problems.append(f"{sys.executable} -m pip install -e '{REPO}[bench]'")
    return problems


def env(**variables: str | Path) -> dict[str, str]:
    path = os.pathsep.join([str(Path(sys.executable).parent), "/usr/sbin", os.environ["PATH"]])
    return {**os.environ, **SINGLE_THREADED, "PATH": path,
            **{name: str(value) for name, value in variables.items()}}


def run_entry_point(argv: list[str | Path], **variables: str | Path) -> None:
    done = subprocess.run([str(MODEL / str(argv[0])), *map(str, argv[1:])], cwd=MODEL,
                          env=env(**variables), capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"{argv[0]} failed:\n{done.stdout}{done.stderr}")


def train_model(work: Path) -> tuple[Path, Path]:
    """prepare -> train into `work`: (prepared splits dir, model dir)."""
    raw, prepared, job = work / "raw", work / "prepared", work / "job"
    raw.mkdir()
    shutil.copy(TEST_DATA / "titanic_train.csv", raw)
    run_entry_point(["prepare", "--input", raw, "--output", prepared],
                    SM_OUTPUT_DIR=work / "prepare-output")
    run_entry_point(["train"], SM_MODEL_DIR=job / "model", SM_OUTPUT_DIR=job / "output",
                    SM_INPUT_CONFIG_DIR=job / "config",
                    **{f"SM_CHANNEL_{c.upper()}": prepared / c
                       for c in ("train", "validation", "preprocessor")})
    return prepared, job / "model"


def byo_model(prepared: Path, model_dir: Path, target: Path) -> None:
    """The same forest, pickled for the BYO predictor (same code, data and settings as train)."""
    metadata = json.loads((model_dir / "metadata.json").read_text())
    preprocessor = Preprocessor.load(model_dir / "preprocessor.json")
    forest = fit_forest(read_split(prepared / "train", "train"), preprocessor,
                        metadata["hyperparameters"])
    target.mkdir()
    (target / "forest.pkl").write_bytes(pickle.dumps(forest))
    shutil.copy(model_dir / "preprocessor.json", target)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(url: str, body: str) -> str:
    response = httpx.post(f"{url}/invocations", content=body.encode(),
                          headers={"Content-Type": "text/csv"}, timeout=60)
    response.raise_for_status()
    return response.text


def start(stack: Stack, command: Path, **variables: str | Path) -> None:
    """Start a stack in its own process group and wait until its /ping answers 200."""
    with stack.log.open("wb") as out:
        stack.process = subprocess.Popen([str(command)], cwd=command.parent,
                                         env=env(**variables), stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and stack.process.poll() is None:
        try:
            if httpx.get(f"{stack.url}/ping", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    sys.exit(f"{stack.name} did not come up:\n{stack.log.read_text()}")


def stop(stack: Stack) -> None:
    if stack.process is not None:
        terminate(stack.process, grace=15)


def to_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def load(url: str, script: Path, seconds: int, connections: int) -> dict[str, float]:
    """One wrk run against POST /invocations: req/s, p50/p99 ms, requests, non-2xx and socket
    errors."""
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
         f"{url}/invocations"], capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(r"Socket errors: (.*)", output)
    return {"req_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
            "p50_ms": to_ms(re.search(r"\s50%\s+(\S+)", output).group(1)),
            "p99_ms": to_ms(re.search(r"\s99%\s+(\S+)", output).group(1)),
            "requests": int(re.search(r"(\d+) requests in", output).group(1)),
            "non_2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": sockets.group(1) if sockets else ""}


def predict_loop(model_dir: Path, seconds: float) -> float:
    """Calls per second of one process doing what `model/serve` does per 1-row CSV request
    (decode, parse, predict, encode), without the HTTP around it."""
    predictor = Predictor.load(model_dir)
    body = PAYLOAD.encode()

    def call() -> bytes:
        passengers = parse_csv(decode(body), predictor.preprocessor.parse)
        return encode(CSV, *predictor.predict(passengers), predictor.version)

    for _ in range(1000):  # warm-up
        call()
    calls, started = 0, time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        call()
        calls += 1
    return calls / (time.perf_counter() - started)


def in_process_limit(model_dir: Path, seconds: int, workers: int) -> float:
    """The calls per second of `workers` processes running `predict_loop` at once (each with
    one compute thread, as the server's workers)."""
    os.environ.update(SINGLE_THREADED)
    context = multiprocessing.get_context("spawn")  # fresh interpreters, as the workers are
    with context.Pool(workers) as pool:
        return sum(pool.starmap(predict_loop, [(model_dir, seconds)] * workers))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1, help="wrk runs per stack (median)")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    if problems := missing_tools():
        print("missing benchmark tools; install them with:\n  " + "\n  ".join(problems))
        return 2

    work = Path(tempfile.mkdtemp(prefix="sagepipe-bench-"))
    work.chmod(0o755)  # nginx workers run unprivileged and must reach the gunicorn socket
    byo_port, our_port = free_port(), free_port()
    stacks = {
        "byo": Stack("classic BYO: nginx + gunicorn gevent + Flask + pandas + sklearn",
                     f"http://127.0.0.1:{byo_port}", work / "byo.log"),
        "ours": Stack("model/serve: granian WSGI + ONNX Runtime",
                      f"http://127.0.0.1:{our_port}", work / "serve.log"),
    }
    try:
        print(f"training the model in {work} ...", flush=True)
        prepared, model_dir = train_model(work)
        byo_model(prepared, model_dir, work / "byo-model")
        conf = string.Template((BYO / "nginx.conf").read_text())
        (work / "nginx.conf").write_text(conf.safe_substitute(RUN_DIR=work, PORT=byo_port))
        start(stacks["byo"], BYO / "serve", BYO_RUN_DIR=work, SM_MODEL_DIR=work / "byo-model",
              MODEL_SERVER_WORKERS=args.workers)
        start(stacks["ours"], MODEL / "serve", SM_MODEL_DIR=model_dir,
              SAGEMAKER_BIND_TO_PORT=our_port, MODEL_SERVER_HOST="127.0.0.1",
              SAGEMAKER_MODEL_SERVER_WORKERS=args.workers)

        rows = [line.split(",") for line in
                (TEST_DATA / "titanic_test.csv").read_text().splitlines()[1:]]
        batch = "".join(f"{pclass},{sex},{age}\n" for _, pclass, sex, age in rows)
        byo_labels = post(stacks["byo"].url, batch).split()
        our_labels = [line.split(",")[0] for line in post(stacks["ours"].url, batch).split()]
        if byo_labels != our_labels:
            sys.exit("the two stacks disagree on the test rows: not the same model")
        print(f"both stacks predict the same {len(rows)} test labels; "
              f"payload {PAYLOAD!r}, {args.connections} connections, {args.workers} workers")

        script = work / "post.lua"
        script.write_text(f'wrk.method = "POST"\nwrk.body = {json.dumps(PAYLOAD)}\n'
                          'wrk.headers["Content-Type"] = "text/csv"\n')
        runs: dict[str, list[dict[str, float]]] = {key: [] for key in stacks}
        limits: list[float] = []
        for _ in range(args.rounds):
            limits.append(in_process_limit(model_dir, args.duration, args.workers))
            for key, stack in stacks.items():
                load(stack.url, script, 2, args.connections)  # warm-up
                runs[key].append(load(stack.url, script, args.duration, args.connections))
    finally:
        for stack in stacks.values():
            stop(stack)
        shutil.rmtree(work, ignore_errors=True)

    results = {key: {metric: statistics.median(run[metric] for run in runs[key])
                     for metric in ("req_per_s", "p50_ms", "p99_ms")} for key in runs}
    limit = statistics.median(limits)
    print(f"\n{'stack':<66}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    print(f"{'in-process limit: parse + predict + encode, no HTTP':<66}{limit:>10.0f}"
          f"{'-':>9}{'-':>9}")
    for key, stack in stacks.items():
        result = results[key]
        print(f"{stack.name:<66}{result['req_per_s']:>10.0f}{result['p50_ms']:>9.2f}"
              f"{result['p99_ms']:>9.2f}")
        for run in runs[key]:
            if run["non_2xx"] or run["socket_errors"]:
                print(f"  warning: {run['non_2xx']} non-2xx, socket errors {run['socket_errors']}")
    ratio = results["ours"]["req_per_s"] / results["byo"]["req_per_s"]
    print(f"\nthroughput ratio (model/serve / BYO): {ratio:.1f}x; model/serve reaches "
          f"{results['ours']['req_per_s'] / limit:.0%} of the in-process limit")
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "serving.json").write_text(json.dumps(
        {"payload": PAYLOAD, "connections": args.connections, "workers": args.workers,
         "duration_s": args.duration, "rounds": runs, "median": results, "ratio": ratio,
         "in_process_limit": {"rounds": limits, "median": limit}},
        indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
