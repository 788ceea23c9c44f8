"""sagepipe: the local AWS (`up`, `down`, images, jobs, endpoints, state machines, stacks,
logs) and the pipeline in it (`run`, `watch`, `status`, `approve`, `reject`, `remote`,
`launch-stack`), as clients of its CloudFormation, CodePipeline and CodeConnections APIs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sagepipe.cli import api, aws, local, pipeline, stacks, states
from sagepipe.cli.local import Target
from sagepipe.config import DEFAULT_PORT

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode="rich",
                  help=__doc__)


@app.callback()
def main(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option(
        envvar="SAGEPIPE_HOME", help="State directory of the local AWS to use [default: the "
        "one AWS_ENDPOINT_URL names, else .sagepipe/ in the repo, else the one running]")] = None,
    port: Annotated[int | None, typer.Option(
        envvar="SAGEPIPE_PORT", min=1, max=65535,
        help=f"Port of the local AWS [default: the one it runs on, else {DEFAULT_PORT}]")] = None,
) -> None:
    ctx.obj = Target(home=home, port=port)


local.register(app)
pipeline.register(app)
api.register(app)
aws.register(app)
states.register(app)
stacks.register(app)
