"""Running a job entry point the way SageMaker expects it to fail: one actionable line in the
job's failure file (shown as the job's FailureReason), the details in the log, exit status 1."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn


class JobFailure(Exception):
    """A reason the job cannot go on that the user can act upon (bad input, bad settings)."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports bad arguments as a job failure instead of exiting on its own."""

    def error(self, message: str) -> NoReturn:
        raise JobFailure(f"bad arguments: {message} (usage: {self.format_usage().strip()})")


def run_job(main: Callable[[], None], failure_file: Path) -> int:
    """Run `main`; on any failure write the reason to `failure_file` and return 1."""
    try:
        main()
    except JobFailure as failure:
        reason = str(failure)
    except Exception as error:  # every failure must leave a reason, not only a traceback
        traceback.print_exc()
        reason = f"internal error: {type(error).__name__}: {error}"
    else:
        return 0
    reason = " ".join(reason.split())  # one line, as SageMaker shows it
    print(f"FAILED: {reason}", file=sys.stderr)
    failure_file.parent.mkdir(parents=True, exist_ok=True)
    failure_file.write_text(reason + "\n")
    return 1
