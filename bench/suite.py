"""Wall time of the test commands: `make test-fast` (the inner loop) and `make test` (the whole
suite, what CI runs), each timed end to end with the machine's load average before and after,
since on a shared machine the load moves the figure more than anything in the suite does.

It also prints the CPU time the machine spent during the run (/proc/stat: every process, so run
it with nothing else busy; not printed with `--busy`) and that time divided by the cores: the
wall time no scheduling can beat, since the suite's processes (local AWS gateways, training
jobs, model servers, the AWS CLI, cfn-lint, whole pipeline runs) need that much CPU.

    .venv/bin/python bench/suite.py [--only fast|full] [--workers N] [--repeat N] [--busy N]

`--workers 0` runs the suite in one process (the figure before pytest-xdist). `--repeat 5
--busy 2 --only full` is the flakiness check: the suite five times in a row while two busy loops
(one per core here) compete with it for the CPU; every run must pass.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMANDS = {"fast": ["make", "test-fast"], "full": ["make", "test"]}


def load() -> str:
    return " / ".join(f"{value:.1f}" for value in os.getloadavg())


def busy_cpu_seconds() -> float:
    """CPU time the whole machine has spent busy since boot (user, nice, system, irq, softirq),
    from /proc/stat's first line."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(f) for f in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def timed(command: list[str], workers: int | None) -> tuple[float, float, int, str, str]:
    """Seconds, the machine's CPU seconds, exit status and the load before and after one run
    of `command`."""
    extra = [] if workers is None else [f"PYTEST_WORKERS={workers}"]
    before = load()
    start, cpu = time.monotonic(), busy_cpu_seconds()
    done = subprocess.run([*command, *extra], cwd=REPO, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=False)
    seconds, cpu = time.monotonic() - start, busy_cpu_seconds() - cpu
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
    return seconds, cpu, done.returncode, before, load()


def minutes(seconds: float) -> str:
    whole, rest = divmod(seconds, 60)
    return f"{int(whole)} min {rest:.1f} s"


@contextlib.contextmanager
def busy_loops(count: int) -> Iterator[None]:
    """`count` processes spinning on a core each for as long as the block runs."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=sorted(COMMANDS), help="one command instead of both")
    p.add_argument("--workers", type=int, help="pytest workers for `make test` (default: its own)")
    p.add_argument("--repeat", type=int, default=1, help="runs of each command, in a row")
    p.add_argument("--busy", type=int, default=0,
                   help="busy-loop processes competing for the CPU during the runs")
    args = p.parse_args()
    print(f"{os.cpu_count()} cores, {args.busy} busy loops\n")
    print("| command | run | wall time | exit | CPU time | CPU time / cores "
          "| load (1/5/15 min) before | after |")
    print("|---|---|---|---|---|---|---|---|")
    failed = 0
    with busy_loops(args.busy):
        for name, command in COMMANDS.items():
            if args.only and name != args.only:
                continue
            for run in range(1, args.repeat + 1):
                seconds, cpu, status, before, after = timed(
                    command, args.workers if name == "full" else None)
                cpu_cells = (f"{minutes(cpu)} | {minutes(cpu / (os.cpu_count() or 1))}"
                             if not args.busy else "- | -")
                print(f"| `{' '.join(command)}` | {run} | {minutes(seconds)} | {status} "
                      f"| {cpu_cells} | {before} | {after} |", flush=True)
                failed |= status
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
