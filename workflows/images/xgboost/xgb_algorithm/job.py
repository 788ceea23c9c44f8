"""Running the training job the way SageMaker expects it to fail: one actionable line in the
failure file (shown as the job's FailureReason), the details in the log, exit status 1."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from pathlib import Path


class JobFailure(Exception):
    """A reason the job cannot go on that the user can act upon (bad data, bad settings)."""


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
