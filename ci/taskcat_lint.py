"""`taskcat lint` of .taskcat.yml, strict (warnings fail too), without going online.

taskcat's command line asks pypi.org for its latest version before every command; this runs
the same lint command (the class the CLI dispatches `lint` to) directly, so the check stays
offline. Run by ci/checkers.sh in .venv-taskcat, on the current directory.
"""

from __future__ import annotations

import sys

from taskcat._cli_modules.lint import Lint
from taskcat._logger import init_taskcat_cli_logger
from taskcat.exceptions import TaskCatException


def main() -> int:
    init_taskcat_cli_logger(loglevel="INFO")
    try:
        Lint(input_file=".taskcat.yml", project_root=".", strict=True)
    except TaskCatException as exc:
        print(f"taskcat lint: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
