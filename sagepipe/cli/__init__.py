"""sagepipe: the local AWS (`up`, `down`, images, jobs, endpoints, logs) and the local pipeline
(`run`, `watch`, `status`, `approve`, `reject`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sagepipe.cli import api, aws, local, pipeline
from sagepipe.config import DEFAULT_PORT, Settings, default_home
from sagepipe.server import recorded_port

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode="rich",
                  help=__doc__)


@app.callback()
def main(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option(
        envvar="SAGEPIPE_HOME", help="State directory [default: .sagepipe/ in the repo]")] = None,
    port: Annotated[int | None, typer.Option(
        envvar="SAGEPIPE_PORT", min=1, max=65535,
        help=f"Port of the local AWS [default: the one it runs on, else {DEFAULT_PORT}]")] = None,
) -> None:
    home = (home or default_home()).resolve()
    ctx.obj = Settings(home=home, port=port or recorded_port(home) or DEFAULT_PORT)


local.register(app)
pipeline.register(app)
api.register(app)
aws.register(app)
