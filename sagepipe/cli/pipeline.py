"""Commands for the pipeline, as clients of the local AWS's own APIs: `run` is the README's AWS
sequence, scripted (connection, `create-stack` of the pipeline stack, `git push` to the local
remote, following the execution), `watch` pushes each new commit, `status` shows the pipeline,
`approve`/`reject` answer its approval (PutApprovalResult), `remote` prints the local Git
remote, `launch-stack` the local counterpart of the Launch Stack button."""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.live import Live
from rich.table import Table

from sagepipe.cli.local import console, err, fail, say_which, target
from sagepipe.clients import Unreachable, client, internal
from sagepipe.config import ACCOUNT_ID, DEFAULT_PORT, Settings
from sagepipe.errors import AWSError
from sagepipe.server import StartError, start_background

STATUS_STYLE = {"Succeeded": "green", "Failed": "red", "InProgress": "yellow",
                "Stopping": "yellow", "Stopped": "red", "Superseded": "dim", "Abandoned": "red"}
ENDED = ("Succeeded", "Failed", "Stopped", "Superseded", "Cancelled")
POLL_SECONDS = 0.5
CAPABILITIES = ["CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
Template = Annotated[Path | None, typer.Option(
    help="Pipeline template [default: CodePipeline/pipeline.yaml]; its parameters are "
         "local-parameters.json beside it")]


def repo_root() -> Path:
    done = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    if done.returncode != 0:
        raise fail("run this inside the git checkout of the project")
    return Path(done.stdout.strip())


def aws_call(fn: Any, **params: Any) -> Any:
    """A call to the local AWS whose error ends the command with AWS's message."""
    try:
        return fn(**params)
    except ClientError as exc:
        error = exc.response["Error"]
        raise fail(f"{error.get('Code')}: {error.get('Message')}") from None
    except BotoCoreError as exc:
        raise fail(str(exc)) from None


@dataclass
class Stack:
    """The pipeline stack as the README creates it: its template and parameters."""

    template: Path
    parameters: dict[str, str]

    @classmethod
    def of(cls, template: Path | None) -> Stack:
        path = (template or repo_root() / "CodePipeline" / "pipeline.yaml").resolve()
        values = path.parent / "local-parameters.json"
        if not path.is_file():
            raise fail(f"no pipeline template at {path}")
        parameters = json.loads(values.read_text()) if values.is_file() else {}
        return cls(path, {k: str(v) for k, v in parameters.items()})

    @property
    def project(self) -> str:
        return self.parameters.get("ProjectName", "sagepipe")

    @property
    def name(self) -> str:
        return f"{self.project}-pipeline"

    def with_connection(self, connection_arn: str) -> dict[str, str]:
        return {**self.parameters, "CodeConnectionArn": connection_arn}

    def upload(self, settings: Settings) -> str:
        """The template put in the local S3, where a Launch Stack button's templateURL points;
        its URL, as AWS writes S3 URLs (the local CloudFormation reads them from the local S3)."""
        bucket = f"cf-templates-{ACCOUNT_ID}-{settings.region}"
        s3 = client(settings, "s3")
        try:
            s3.create_bucket(Bucket=bucket)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
                raise fail(f"cannot create the templates bucket {bucket}: {exc}") from None
        key = f"{self.name}/{self.template.name}"
        aws_call(s3.upload_file, Filename=str(self.template), Bucket=bucket, Key=key)
        return f"https://{bucket}.s3.amazonaws.com/{key}"


def connection(settings: Settings, stack: Stack) -> str:
    """The ARN of the project's connection (`<project>-local`), created if there is none (the
    README's step 1; locally it is AVAILABLE at once)."""
    api = client(settings, "codeconnections")
    name = f"{stack.project}-local"[:32]
    for found in aws_call(api.list_connections)["Connections"]:
        if found["ConnectionName"] == name and found["ConnectionStatus"] == "AVAILABLE":
            return str(found["ConnectionArn"])
    return str(aws_call(api.create_connection, ProviderType="GitHub",
                        ConnectionName=name)["ConnectionArn"])


def deploy(settings: Settings, stack: Stack, connection_arn: str) -> None:
    """`aws cloudformation create-stack --template-body file://CodePipeline/pipeline.yaml` (or
    `update-stack`) of the pipeline stack, and wait."""
    cfn = client(settings, "cloudformation")
    arguments = {"StackName": stack.name, "TemplateBody": stack.template.read_text(),
                 "Capabilities": CAPABILITIES,
                 "Parameters": [{"ParameterKey": k, "ParameterValue": v}
                                for k, v in stack.with_connection(connection_arn).items()]}
    started = time.monotonic()
    try:
        status = cfn.describe_stacks(StackName=stack.name)["Stacks"][0]["StackStatus"]
    except ClientError:
        status = None
    if status in (None, "ROLLBACK_COMPLETE"):
        if status:
            aws_call(cfn.delete_stack, StackName=stack.name)
            settle(cfn, stack.name)
        aws_call(cfn.create_stack, **arguments)
        verb = "created"
    else:
        try:
            cfn.update_stack(**arguments)
        except ClientError as exc:
            if "No updates are to be performed" not in exc.response["Error"]["Message"]:
                raise fail(f"update-stack {stack.name}: {exc.response['Error']['Message']}") \
                    from None
            err.print(f"stack {stack.name}: up to date", highlight=False)
            return
        verb = "updated"
    found = settle(cfn, stack.name)
    if found["StackStatus"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        failures = [f"  {e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}"
                    for e in cfn.describe_stack_events(StackName=found["StackId"])[
                        "StackEvents"] if e["ResourceStatus"].endswith("FAILED")]
        raise fail("\n".join([f"stack {stack.name} is {found['StackStatus']}: "
                              f"{found.get('StackStatusReason', '')}", *failures[:5]]))
    err.print(f"stack {stack.name} {verb} in {time.monotonic() - started:.1f}s",
              highlight=False)


def settle(cfn: Any, name: str) -> dict[str, Any]:
    while (found := cfn.describe_stacks(StackName=name)["Stacks"][0])["StackStatus"].endswith(
            "_IN_PROGRESS"):
        time.sleep(POLL_SECONDS)
    return dict(found)


@dataclass
class Source:
    """The pipeline's source action: what a push to its remote builds."""

    pipeline: str
    action: str
    repository: str
    branch: str


def source_of(settings: Settings, pipeline: str) -> Source:
    declaration = aws_call(client(settings, "codepipeline").get_pipeline, name=pipeline)[
        "pipeline"]
    for action in declaration["stages"][0]["actions"]:
        if action["actionTypeId"]["provider"] == "CodeStarSourceConnection":
            config = action["configuration"]
            return Source(pipeline, action["name"], config["FullRepositoryId"],
                          config["BranchName"])
    raise fail(f"pipeline {pipeline} has no CodeStarSourceConnection source: nothing to push to")


def remote_url(settings: Settings, repository: str) -> str:
    try:
        remotes = internal(settings, "GET", "git/repositories")
    except (AWSError, Unreachable) as exc:
        raise fail(str(exc)) from None
    for remote in remotes:
        if remote["FullRepositoryId"] == repository:
            return str(remote["url"])
    raise fail(f"the local AWS serves no Git remote for {repository}")


def pick_pipeline(settings: Settings, name: str | None) -> str:
    """The pipeline named, else the only one, else the repository's (`<project>-pipeline`)."""
    if name:
        return name
    names = [p["name"] for p in aws_call(client(settings, "codepipeline").list_pipelines)[
        "pipelines"]]
    if len(names) == 1:
        return str(names[0])
    default = Stack.of(None).name
    if default in names:
        return default
    listed = ", ".join(names) or "none: `sagepipe run` creates one"
    raise fail(f"{len(names)} pipelines ({listed}); name the one you mean")


def head_commit(repo: Path) -> tuple[str, str]:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              check=True).stdout.strip()
    dirty = [line for line in git("status", "--porcelain").splitlines() if line]
    sha = git("rev-parse", "HEAD")
    if dirty:
        console.print(f"[yellow]note:[/yellow] {len(dirty)} uncommitted change(s) are not "
                      f"part of this run; it builds commit {sha[:10]} (commit them to include "
                      "them)")
    return sha, git("log", "-1", "--format=%s")


def push(settings: Settings, repo: Path, source: Source, sha: str, since: float) -> str:
    """`git push` of `sha` to the pipeline's branch in its local remote: the push starts the
    execution (the remote's hook); the id of the execution that builds `sha`. A push that
    changes nothing (the branch is already there) starts one with StartPipelineExecution."""
    url = remote_url(settings, source.repository)
    done = subprocess.run(["git", "-C", str(repo), "push", "--force", url,
                           f"{sha}:refs/heads/{source.branch}"], capture_output=True, text=True)
    if done.returncode != 0:
        raise fail(f"git push to {url} failed: {done.stderr.strip()}")
    api = client(settings, "codepipeline")
    for summary in aws_call(api.list_pipeline_executions, pipelineName=source.pipeline,
                            maxResults=10)["pipelineExecutionSummaries"]:
        if summary["startTime"].timestamp() >= since and any(
                r["revisionId"] == sha for r in summary.get("sourceRevisions", [])):
            return str(summary["pipelineExecutionId"])
    return str(aws_call(api.start_pipeline_execution, name=source.pipeline, sourceRevisions=[
        {"actionName": source.action, "revisionType": "COMMIT_ID", "revisionValue": sha}])[
        "pipelineExecutionId"])


def waiting_approval(settings: Settings, pipeline: str,
                     execution_id: str | None = None) -> tuple[str, str, str] | None:
    """(stage, action, token) of the approval that waits, from GetPipelineState."""
    state = aws_call(client(settings, "codepipeline").get_pipeline_state, name=pipeline)
    for stage in state["stageStates"]:
        latest = stage.get("latestExecution", {})
        if execution_id and latest.get("pipelineExecutionId") != execution_id:
            continue
        for action in stage["actionStates"]:
            token = action.get("latestExecution", {}).get("token")
            if token and latest.get("status") == "InProgress":
                return stage["stageName"], action["actionName"], token
    return None


class Follower:
    """Prints an execution's actions as they end, like the CodePipeline console's history."""

    def __init__(self, settings: Settings, pipeline: str, execution_id: str,
                 auto_approve: bool) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.execution_id = execution_id
        self.auto_approve = auto_approve
        self.api = client(settings, "codepipeline")
        self.printed: set[str] = set()
        self.stage = ""
        self.asked = False

    def run(self) -> str:
        while True:
            execution = aws_call(self.api.get_pipeline_execution, pipelineName=self.pipeline,
                                 pipelineExecutionId=self.execution_id)["pipelineExecution"]
            self.show_actions()
            if execution["status"] in ENDED:
                break
            self.approval()
            time.sleep(POLL_SECONDS)
        summary = aws_call(self.api.list_pipeline_executions, pipelineName=self.pipeline)
        seconds = next((s["lastUpdateTime"] - s["startTime"]).total_seconds()
                       for s in summary["pipelineExecutionSummaries"]
                       if s["pipelineExecutionId"] == self.execution_id)
        style = STATUS_STYLE.get(execution["status"], "")
        console.print(f"[{style}]pipeline {execution['status']}[/{style}] in {seconds:.1f}s"
                      + (f": {execution['statusSummary']}" if execution.get("statusSummary")
                         else ""), highlight=False)
        return str(execution["status"])

    def show_actions(self) -> None:
        details = aws_call(self.api.list_action_executions, pipelineName=self.pipeline,
                           filter={"pipelineExecutionId": self.execution_id})[
            "actionExecutionDetails"]
        for detail in sorted(details, key=lambda d: d["startTime"]):
            label = f"{detail['stageName']}.{detail['actionName']}"
            if detail["actionExecutionId"] in self.printed or detail["status"] == "InProgress":
                continue
            self.printed.add(detail["actionExecutionId"])
            self.enter(detail["stageName"])
            seconds = (detail["lastUpdateTime"] - detail["startTime"]).total_seconds()
            if detail["status"] == "Succeeded":
                console.print(f"[green]✔ {label}[/green] {seconds:.1f}s", highlight=False)
                continue
            result = detail.get("output", {}).get("executionResult", {})
            message = result.get("errorDetails", {}).get("message", detail["status"])
            console.print(f"[red]✘ {label}[/red] ", end="", highlight=False)
            console.out(f"{detail['status'].lower()}: {message}", highlight=False)
            if detail["input"]["actionTypeId"]["provider"] == "CodeBuild" and \
                    result.get("externalExecutionId"):
                self.build_log(result["externalExecutionId"])

    def build_log(self, build_id: str, lines: int = 25) -> None:
        """The last lines of a build's log, from its CloudWatch log stream."""
        builds = aws_call(client(self.settings, "codebuild").batch_get_builds, ids=[build_id])
        logs = builds["builds"][0]["logs"] if builds["builds"] else {}
        if not logs.get("streamName"):
            return
        events = aws_call(client(self.settings, "logs").get_log_events,
                          logGroupName=logs["groupName"], logStreamName=logs["streamName"],
                          limit=lines, startFromHead=False)["events"]
        err.print(f"[dim]--- last lines of {logs['groupName']} {logs['streamName']} (aws logs "
                  f"get-log-events) ---[/dim]", highlight=False)
        console.out("\n".join(e["message"] for e in events), highlight=False)

    def enter(self, stage: str) -> None:
        """A rule with the stage's name, once, when its first line is printed."""
        if stage != self.stage:
            self.stage = stage
            console.rule(f"[bold]{stage}")

    def approval(self) -> None:
        waiting = waiting_approval(self.settings, self.pipeline, self.execution_id)
        if waiting is None:
            return
        stage, action, token = waiting
        self.enter(stage)
        if self.auto_approve:
            aws_call(self.api.put_approval_result, pipelineName=self.pipeline, stageName=stage,
                     actionName=action, token=token,
                     result={"summary": "auto-approved (--auto-approve)", "status": "Approved"})
            console.print(f"    {stage}.{action}: auto-approved (--auto-approve)",
                          highlight=False)
        elif not self.asked:
            self.asked = True
            cli = "sagepipe" + (f" --port {self.settings.port}"
                                if self.settings.port != DEFAULT_PORT else "")
            console.print(
                f"    {stage}.{action} waits for approval; the request e-mail is in "
                f"{self.settings.home / 'outbox'}. Answer with `{cli} approve --comment ...` "
                f"or `{cli} reject --comment ...` (or `aws codepipeline put-approval-result "
                f"--pipeline-name {self.pipeline} --stage-name {stage} --action-name {action} "
                f"--token {token} --result summary=...,status=Approved`)", highlight=False)


def prepare(ctx: typer.Context, template: Path | None) -> tuple[Settings, Stack, Source]:
    """The local AWS started, the connection made, the pipeline stack deployed: what the
    README's AWS section does before the first push."""
    settings = target(ctx).own()
    say_which(settings)
    try:
        start_background(settings)
    except StartError as exc:
        raise fail(str(exc)) from None
    stack = Stack.of(template)
    deploy(settings, stack, connection(settings, stack))
    cfn = client(settings, "cloudformation")
    pipelines = [r["PhysicalResourceId"] for r in aws_call(
        cfn.describe_stack_resources, StackName=stack.name)["StackResources"]
        if r["ResourceType"] == "AWS::CodePipeline::Pipeline"]
    if len(pipelines) != 1:
        raise fail(f"stack {stack.name} must create exactly one pipeline "
                   f"(it has {len(pipelines)})")
    return settings, stack, source_of(settings, pipelines[0])


def run(
    ctx: typer.Context,
    auto_approve: Annotated[bool, typer.Option(
        help="Approve the manual approval at once (for CI); otherwise wait for "
             "`sagepipe approve` / `sagepipe reject`")] = False,
    template: Template = None,
) -> None:
    """Create (or update) the pipeline stack in the local AWS, push the current commit to its
    local Git remote and follow the execution it starts."""
    since = time.time() - 1
    repo = repo_root()
    settings, _stack, source = prepare(ctx, template)
    sha, message = head_commit(repo)
    execution_id = push(settings, repo, source, sha, since)
    console.print(f"[bold]pipeline {source.pipeline}[/bold] execution {execution_id} on "
                  f"{sha[:10]} ({message})", highlight=False)
    if Follower(settings, source.pipeline, execution_id, auto_approve).run() != "Succeeded":
        raise typer.Exit(1)


def watch(
    ctx: typer.Context,
    interval: Annotated[float, typer.Option(min=1, help="Seconds between checks")] = 5,
    auto_approve: Annotated[bool, typer.Option()] = False,
    template: Template = None,
) -> None:
    """Push every new commit of the current branch to the pipeline's local remote (which
    starts the pipeline, as a push to GitHub does) and follow each execution."""
    repo = repo_root()
    settings, _stack, source = prepare(ctx, template)
    last = None
    err.print(f"watching {repo} for new commits (Ctrl-C to stop)")
    while True:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
        if head and head != last:
            last = head
            since = time.time() - 1
            execution_id = push(settings, repo, source, head, since)
            console.print(f"[bold]pipeline {source.pipeline}[/bold] execution {execution_id} "
                          f"on {head[:10]}", highlight=False)
            Follower(settings, source.pipeline, execution_id, auto_approve).run()
        time.sleep(interval)


def execution_table(settings: Settings, pipeline: str, summary: dict[str, Any]) -> Table:
    api = client(settings, "codepipeline")
    execution_id = summary["pipelineExecutionId"]
    commit = next((r["revisionId"][:10] for r in summary.get("sourceRevisions", [])), "")
    seconds = (summary["lastUpdateTime"] - summary["startTime"]).total_seconds()
    table = Table(title=f"{pipeline} execution {execution_id} ({commit}, "
                        f"{summary['trigger']['triggerType']}): "
                        f"[{STATUS_STYLE.get(summary['status'], '')}]{summary['status']}[/] "
                        f"{seconds:.1f}s")
    for column in ("Stage", "Action", "Status", "Time", "Details"):
        table.add_column(column)
    details = {(d["stageName"], d["actionName"]): d for d in sorted(
        aws_call(api.list_action_executions, pipelineName=pipeline,
                 filter={"pipelineExecutionId": execution_id})["actionExecutionDetails"],
        key=lambda d: d["startTime"])}
    declaration = aws_call(api.get_pipeline, name=pipeline)["pipeline"]
    for stage in declaration["stages"]:
        for i, action in enumerate(stage["actions"]):
            detail = details.get((stage["name"], action["name"]))
            status = detail["status"] if detail else "Pending"
            time_taken = "" if detail is None else \
                f"{(detail['lastUpdateTime'] - detail['startTime']).total_seconds():.1f}s"
            output = (detail or {}).get("output", {})
            info = output.get("executionResult", {}).get("errorDetails", {}).get("message") or \
                ", ".join(f"{k}={v}" for k, v in output.get("outputVariables", {}).items())
            table.add_row(stage["name"] if i == 0 else "", action["name"],
                          f"[{STATUS_STYLE.get(status, 'dim')}]{status}[/]", time_taken,
                          info[:120])
    return table


def status(
    ctx: typer.Context,
    pipeline: Annotated[str | None, typer.Argument(help="Pipeline [default: the only one, "
                                                        "else the repository's]")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f",
                                         help="Refresh until the execution ends")] = False,
) -> None:
    """The local AWS and the pipeline's latest execution, like the CodePipeline console
    (GetPipelineState, ListPipelineExecutions, ListActionExecutions)."""
    settings, running = target(ctx).current()
    console.print(f"local AWS {'running' if running else 'stopped'} at {settings.endpoint_url} "
                  f"(home {settings.home})")
    if not running:
        console.print("start it (`sagepipe up`) to see its pipelines")
        return
    if not pipeline and not aws_call(client(settings, "codepipeline").list_pipelines)[
            "pipelines"]:
        console.print("no pipeline yet: `sagepipe run` creates the pipeline stack")
        return
    name = pick_pipeline(settings, pipeline)
    api = client(settings, "codepipeline")

    def latest() -> dict[str, Any] | None:
        summaries = aws_call(api.list_pipeline_executions, pipelineName=name, maxResults=1)[
            "pipelineExecutionSummaries"]
        return summaries[0] if summaries else None

    summary = latest()
    if summary is None:
        console.print(f"pipeline {name}: no execution yet (push to `sagepipe remote`)")
        return
    if not follow:
        console.print(execution_table(settings, name, summary))
        return
    with Live(execution_table(settings, name, summary), console=console,
              refresh_per_second=2) as live:
        while summary["status"] not in ENDED:
            time.sleep(POLL_SECONDS)
            summary = latest() or summary
            live.update(execution_table(settings, name, summary))


def _decide(ctx: typer.Context, pipeline: str | None, approved: bool, comment: str) -> None:
    settings = target(ctx).running()
    name = pick_pipeline(settings, pipeline)
    waiting = waiting_approval(settings, name)
    if waiting is None:
        raise fail(f"no approval of pipeline {name} is waiting (`sagepipe status` shows it)")
    stage, action, token = waiting
    aws_call(client(settings, "codepipeline").put_approval_result, pipelineName=name,
             stageName=stage, actionName=action, token=token,
             result={"summary": comment, "status": "Approved" if approved else "Rejected"})
    console.print(f"{'approved' if approved else 'rejected'} {stage}.{action} of pipeline "
                  f"{name}", highlight=False)


PipelineName = Annotated[str | None, typer.Option(
    "--pipeline", help="Pipeline [default: the only one, else the repository's]")]


def approve(ctx: typer.Context, comment: Annotated[str, typer.Option(help="Why")] = "",
            pipeline: PipelineName = None) -> None:
    """Approve the pipeline's waiting manual approval (PutApprovalResult with its token)."""
    _decide(ctx, pipeline, True, comment)


def reject(ctx: typer.Context,
           comment: Annotated[str, typer.Option(help="Why (kept in the history)")],
           pipeline: PipelineName = None) -> None:
    """Reject the waiting manual approval: the execution fails and prod stays as it was."""
    _decide(ctx, pipeline, False, comment)


def remote(
    ctx: typer.Context,
    pipeline: Annotated[str | None, typer.Argument(help="Pipeline [default: the only one, "
                                                        "else the repository's]")] = None,
) -> None:
    """Print the local Git remote of the pipeline's source, alone on stdout:
    `git remote add local "$(sagepipe remote)"`, then `git push local HEAD:main` starts it."""
    settings = target(ctx).running()
    source = source_of(settings, pick_pipeline(settings, pipeline))
    console.out(remote_url(settings, source.repository), highlight=False)
    err.print(f"[dim]pushes to branch {source.branch} start pipeline {source.pipeline}[/dim]",
              highlight=False)


def launch_stack(ctx: typer.Context, template: Template = None) -> None:
    """Print the local Launch Stack: the template put in the local S3 (where the README's
    button points), and the `aws cloudformation create-stack` of the pipeline stack against the
    local AWS with the parameters the button pre-fills (the project's local-parameters.json
    and a local connection, created if needed)."""
    settings = target(ctx).running()
    stack = Stack.of(template)
    connection_arn = connection(settings, stack)
    url = stack.upload(settings)
    endpoint = f"--endpoint-url {settings.endpoint_url} --region {settings.region}"
    parameters = " ".join(f"ParameterKey={k},ParameterValue={shlex.quote(v)}"
                          for k, v in stack.with_connection(connection_arn).items())
    err.print(f'[dim]# {stack.template.name} is at {url} in the local S3; with the local '
              'credentials (eval "$(sagepipe env)"):[/dim]', highlight=False)
    console.out(f"aws {endpoint} cloudformation create-stack --stack-name {stack.name} "
                f"--template-url {url} --capabilities {' '.join(CAPABILITIES)} "
                f"--parameters {parameters}\n"
                f"aws {endpoint} cloudformation wait stack-create-complete "
                f"--stack-name {stack.name}", highlight=False)
    err.print('[dim]# then: git remote add local "$(sagepipe remote)" && git push local '
              f"HEAD:{stack.parameters.get('BranchName', 'main')}[/dim]")


def invoke(
    ctx: typer.Context,
    endpoint: Annotated[str, typer.Argument(help="Endpoint name")],
    body: Annotated[str, typer.Option(help="Request body")],
    content_type: Annotated[str, typer.Option(help="MIME type of the body")] = "text/csv",
    accept: Annotated[str, typer.Option(help="MIME type wanted back")] = "application/json",
) -> None:
    """Call an endpoint through the local SageMaker Runtime and print its answer."""
    settings = target(ctx).running()
    reply = aws_call(client(settings, "sagemaker-runtime").invoke_endpoint,
                     EndpointName=endpoint, Body=body.encode(), ContentType=content_type,
                     Accept=accept)
    console.print(reply["Body"].read().decode(), highlight=False)
    err.print(f"[dim]same call with the AWS CLI:\n  aws --endpoint-url {settings.endpoint_url} "
              f"sagemaker-runtime invoke-endpoint --endpoint-name {endpoint} "
              f"--content-type {content_type} --accept {accept} --body '{body}' /dev/stdout\n"
              "  (AWS CLI v2: add --cli-binary-format raw-in-base64-out)[/dim]")


def register(app: typer.Typer) -> None:
    for command in (run, watch, status, approve, reject, remote, invoke):
        app.command()(command)
    app.command("launch-stack")(launch_stack)
