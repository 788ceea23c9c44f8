"""Wall time of the test commands: `make test-fast` (the inner loop) and `make test` (the whole
suite, what CI runs), each timed end to end with the machine's load average before and after,
since on a shared machine the load moves the figure more than anything in the suite does.

    .venv/bin/python bench/suite.py [--only fast|full] [--workers N]

`--workers 0` runs the suite in one process (the figure before pytest-xdist).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMANDS = {"fast": ["make", "test-fast"], "full": ["make", "test"]}


def load() -> str:
    return " / ".join(f"{value:.1f}" for value in os.getloadavg())


def timed(command: list[str], workers: int | None) -> tuple[float, int, str, str]:
    """Seconds, exit status and the load before and after one run of `command`."""
    extra = [] if workers is None else [f"PYTEST_WORKERS={workers}"]
    before = load()
    start = time.monotonic()
    done = subprocess.run([*command, *extra], cwd=REPO, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=False)
    seconds = time.monotonic() - start
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
    return seconds, done.returncode, before, load()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=sorted(COMMANDS), help="one command instead of both")
    p.add_argument("--workers", type=int, help="pytest workers for `make test` (default: its own)")
    args = p.parse_args()
    print(f"{os.cpu_count()} cores\n")
    print("| command | wall time | exit | load (1/5/15 min) before | after |")
    print("|---|---|---|---|---|")
    failed = 0
    for name, command in COMMANDS.items():
        if args.only and name != args.only:
            continue
        seconds, status, before, after = timed(command, args.workers if name == "full" else None)
        minutes, rest = divmod(seconds, 60)
        print(f"| `{' '.join(command)}` | {int(minutes)} min {rest:.1f} s | {status} | {before} "
              f"| {after} |", flush=True)
        failed |= status
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
