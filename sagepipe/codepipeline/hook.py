"""The post-receive hook of a local Git remote (git.py installs it): git gives it the refs the
push updated (`<old> <new> <ref>` per line on stdin); it tells the local AWS of the remote's
home through its signed internal route `POST /_sagepipe/git/pushes`, which starts the pipelines
whose trigger matches, and prints what started (git shows it to the pusher as `remote: ...`).

The push itself always succeeds, as a push to GitHub does: when the local AWS is not running,
the hook says so and how to start the pipeline later."""

from __future__ import annotations

import sys
from pathlib import Path

from sagepipe import instances
from sagepipe.clients import Unreachable, internal
from sagepipe.errors import AWSError


def main(home: str, repository: str) -> int:
    updates = [dict(zip(("old", "new", "ref"), line.split(), strict=True))
               for line in sys.stdin.read().splitlines() if len(line.split()) == 3]
    instance = instances.of_home(Path(home))
    if instance is None:
        print(f"sagepipe: the local AWS of {home} is not running, so no pipeline started; start "
              "it (`sagepipe up`) and run `aws codepipeline start-pipeline-execution`")
        return 0
    try:
        answer = internal(instance.settings, "POST", "git/pushes",
                          {"repository": repository, "updates": updates}, timeout=60)
    except (AWSError, Unreachable) as exc:
        print(f"sagepipe: the local AWS did not take the push: {exc}")
        return 0
    for started in answer["executions"]:
        print(f"sagepipe: pipeline {started['pipelineName']} started execution "
              f"{started['pipelineExecutionId']}")
    if not answer["executions"]:
        print(f"sagepipe: no pipeline's trigger matches this push to {repository}")
    return 0
