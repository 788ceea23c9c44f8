"""One build, from StartBuild to COMPLETED, as CodeBuild runs it: QUEUED, PROVISIONING,
DOWNLOAD_SOURCE (the source zip from the local S3), the buildspec's INSTALL to POST_BUILD
(buildspec.py), UPLOAD_ARTIFACTS (a zip back to S3), FINALIZING. The build's document records
each phase as it starts and ends, with CodeBuild's status codes and messages when one fails; its
output goes to the project's CloudWatch log group (`/aws/codebuild/<project>` unless its
LogsConfig names one), a stream per build, which `aws logs` reads.

The local build image is the project's own venv: the build's shell has its `bin/` on the PATH,
the AWS endpoint and credentials of the local AWS, CodeBuild's CODEBUILD_* variables, and a
`docker` (bin/docker) that registers images in the local registry (there is no Docker engine).

A source zip that CodePipeline hands over carries what CodeBuild learns from the pipeline in
AWS as S3 object metadata (`x-amz-meta-source-revision`: the commit, CodeBuild's resolved
source version; `x-amz-meta-initiator`: `codepipeline/<pipeline>`).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError

from sagepipe.archives import ArchiveError, pack, unpack
from sagepipe.clients import client, local_env
from sagepipe.codebuild.buildspec import (
    BuildspecError,
    Phase,
    collect_artifacts,
    load_buildspec,
    parse_buildspec,
    run_build,
)
from sagepipe.codebuild.exceptions import InvalidInputException
from sagepipe.config import Settings, arn
from sagepipe.documents import Documents
from sagepipe.logs.streams import open_stream
from sagepipe.processes import host_environment, kill_stale

log = logging.getLogger(__name__)
Params = dict[str, Any]
DOCKER_SHIM = Path(__file__).parent / "bin"
REVISION_METADATA, INITIATOR_METADATA = "source-revision", "initiator"
EMULATED_SOURCES = ("S3", "NO_SOURCE")
RESTART_REASON = "The local AWS stopped while this build ran, so the build did not finish."


@dataclass(frozen=True)
class Source:
    type: str
    location: str = ""
    identifier: str = ""  # "" for the primary source
    version: str | None = None

    def bucket_and_key(self) -> tuple[str, str]:
        """`bucket/key` (or `arn:aws:s3:::bucket/key`), as CodeBuild names an S3 source."""
        bucket, _, key = self.location.removeprefix("arn:aws:s3:::").partition("/")
        return bucket, key


@dataclass
class BuildPlan:
    """What StartBuild decided: the project with the call's overrides applied."""

    project: Params
    source: Source
    secondary: list[Source]
    buildspec: str
    artifacts: Params
    variables: list[Params]
    timeout_minutes: int
    logs: Params

    @classmethod
    def of(cls, project: Params, params: Params, settings: Settings) -> BuildPlan:
        """Raises InvalidInputException for what the local CodeBuild cannot build."""
        source_type = params.get("sourceTypeOverride") or project["source"]["type"]
        if source_type == "CODEPIPELINE":
            raise InvalidInputException(
                f"Project {project['name']} takes its source from CodePipeline: its pipeline "
                "starts its builds (or override the source: sourceTypeOverride S3 and "
                "sourceLocationOverride bucket/key.zip)")
        if source_type not in EMULATED_SOURCES:
            raise InvalidInputException(
                f"Source type {source_type} is not emulated by the local CodeBuild: give the "
                "source as an S3 zip (sourceTypeOverride S3) or NO_SOURCE with an inline "
                "buildspec")
        location = params.get("sourceLocationOverride") or project["source"].get("location", "")
        source = Source(source_type, location, version=params.get("sourceVersion"))
        if source_type == "S3" and not all(source.bucket_and_key()):
            raise InvalidInputException(f"Invalid source location {location!r}: an S3 source is "
                                        "bucket/key of a zip")
        buildspec = params.get("buildspecOverride") or project["source"].get("buildspec") or ""
        if source_type == "NO_SOURCE" and "\n" not in buildspec:
            raise InvalidInputException("A build with no source needs an inline buildspec "
                                        "(buildspecOverride with the YAML itself)")
        secondary = [Source(s["type"], s.get("location", ""), s.get("sourceIdentifier", ""))
                     for s in (params.get("secondarySourcesOverride")
                               or project.get("secondarySources") or [])]
        for extra in secondary:
            if extra.type != "S3" or not extra.identifier:
                raise InvalidInputException(
                    f"Secondary source {extra.identifier or '(no sourceIdentifier)'}: the local "
                    "CodeBuild takes secondary sources from S3, each with a sourceIdentifier")
        artifacts = params.get("artifactsOverride") or project["artifacts"]
        if artifacts["type"] == "CODEPIPELINE":
            raise InvalidInputException("Artifacts of type CODEPIPELINE are uploaded by the "
                                        "pipeline's build: override them (artifactsOverride)")
        if artifacts["type"] == "S3" and not artifacts.get("location"):
            raise InvalidInputException("S3 artifacts need a location (the bucket)")
        variables = {v["name"]: v for v in project["environment"].get("environmentVariables")
                     or []}
        variables.update({v["name"]: v for v in params.get("environmentVariablesOverride") or []})
        logs = ((params.get("logsConfigOverride") or project.get("logsConfig") or {})
                .get("cloudWatchLogs") or {"status": "ENABLED"})
        return cls(project, source, secondary, buildspec, artifacts, list(variables.values()),
                   int(params.get("timeoutInMinutesOverride") or project["timeoutInMinutes"]),
                   logs)

    def document(self, build_id: str, number: int, settings: Settings) -> Params:
        """The build as BatchGetBuilds answers it when it has just been submitted."""
        project, now = self.project, time.time()
        uuid = build_id.split(":", 1)[1]
        group = self.logs.get("groupName") or f"/aws/codebuild/{project['name']}"
        stream = "/".join(filter(None, [self.logs.get("streamName"), uuid]))
        region = settings.region
        source = {**project["source"], "type": self.source.type, "location": self.source.location,
                  "buildspec": self.buildspec}
        return {
            "id": build_id, "arn": arn("codebuild", f"build/{build_id}", settings.region),
            "buildNumber": number, "startTime": now, "currentPhase": "QUEUED",
            "buildStatus": "IN_PROGRESS", "projectName": project["name"],
            "sourceVersion": self.source.version or (
                "arn:aws:s3:::" + self.source.location.removeprefix("arn:aws:s3:::")
                if self.source.type == "S3" else None),
            "phases": [{"phaseType": "SUBMITTED", "phaseStatus": "SUCCEEDED", "startTime": now,
                        "endTime": now, "durationInSeconds": 0},
                       {"phaseType": "QUEUED", "startTime": now}],
            "source": {k: v for k, v in source.items() if v is not None},
            "secondarySources": [{"type": s.type, "location": s.location,
                                  "sourceIdentifier": s.identifier} for s in self.secondary],
            "artifacts": {}, "environment": {**project["environment"],
                                             "environmentVariables": self.variables},
            "serviceRole": project.get("serviceRole"),
            "logs": {"groupName": group, "streamName": stream,
                     "deepLink": f"https://console.aws.amazon.com/cloudwatch/home?region="
                                 f"{region}#logEvent:group={quote(group, safe='')};stream="
                                 f"{quote(stream, safe='')}",
                     "cloudWatchLogsArn": arn("logs", f"log-group:{group}:log-stream:{stream}",
                                              settings.region),
                     "cloudWatchLogs": self.logs},
            "timeoutInMinutes": self.timeout_minutes,
            "queuedTimeoutInMinutes": project["queuedTimeoutInMinutes"],
            "buildComplete": False, "initiator": "sagepipe",
            "encryptionKey": project.get("encryptionKey"), "exportedEnvironmentVariables": [],
        }


def work_dir(settings: Settings, build_id: str) -> Path:
    return settings.subdir("codebuild") / build_id.split(":", 1)[1]


def settle(settings: Settings, build: Params) -> None:
    """End a build whose gateway died while it ran: kill what is left of its shell, mark the
    open phase and the build FAILED with the reason."""
    record = work_dir(settings, build["id"]) / "work" / "process.json"
    if record.exists():
        kill_stale([json.loads(record.read_text())])
    _close(build, "FAILED", ("CLIENT_ERROR", RESTART_REASON))
    build.update(buildStatus="FAILED", buildComplete=True, endTime=time.time(),
                 currentPhase="COMPLETED")


class BuildRun(threading.Thread):
    """The thread that runs one build and keeps its document up to date."""

    def __init__(self, docs: Documents, build: Params, plan: BuildPlan, settings: Settings,
                 forget: Callable[[BuildRun], None]) -> None:
        super().__init__(daemon=True, name=f"build {build['id']}")
        self.docs = docs
        self.build = build
        self.plan = plan
        self.settings = settings
        self.forget = forget
        self.cancel = threading.Event()
        self.reason = ""
        self.log = open_stream(settings, build["logs"]["groupName"], build["logs"]["streamName"])

    @property
    def build_id(self) -> str:
        return str(self.build["id"])

    def stop(self, why: str) -> None:
        self.reason = why
        self.cancel.set()

    def run(self) -> None:
        try:
            status = self._run()
        except Exception:  # a bug of ours: the build ends FAULT, the traceback in the gateway log
            log.exception("build %s failed on an internal error", self.build_id)
            status = "FAULT"
            self._fail("INTERNAL_ERROR", "the local CodeBuild hit an internal error; see the "
                       "gateway log (`sagepipe logs gateway`)")
        finally:
            self.forget(self)
        self._complete(status)

    # -- the phases ---------------------------------------------------------------------------
    def _run(self) -> str:
        self._enter("PROVISIONING")
        work = work_dir(self.settings, self.build_id)
        environment = self._environment(work)
        if environment is None:
            return "FAILED"
        self._enter("DOWNLOAD_SOURCE")
        spec = self._download(work, environment)
        if spec is None:
            return "FAILED"
        prefix = self._end_phase()
        result = run_build(
            spec, work / "src", environment, work / "work", self.log,
            self.plan.timeout_minutes * 60, cancel=self.cancel,
            on_phase=lambda phases: self._save(phases=prefix + [_phase(p) for p in phases]))
        self._save(phases=prefix + [_phase(p, result.status) for p in result.phases],
                   exportedEnvironmentVariables=[{"name": k, "value": v}
                                                 for k, v in result.exported.items()])
        if not result.succeeded:
            if self.reason:
                self._say(self.reason)
            return result.status
        self._enter("UPLOAD_ARTIFACTS")
        if not self._upload(spec, work):
            return "FAILED"
        return "SUCCEEDED"

    def _environment(self, work: Path) -> dict[str, str] | None:
        unsupported = [v["name"] for v in self.plan.variables
                       if v.get("type", "PLAINTEXT") != "PLAINTEXT"]
        if unsupported:
            self._fail("CLIENT_ERROR", f"environment variables {', '.join(unsupported)} are "
                       "PARAMETER_STORE or SECRETS_MANAGER variables, which the local AWS does "
                       "not emulate: pass them as PLAINTEXT")
            return None
        build, project = self.build, self.plan.project
        environment = host_environment()
        environment.update(local_env(self.settings))
        environment.update({v["name"]: str(v["value"]) for v in self.plan.variables})
        environment.update({
            "PATH": os.pathsep.join([str(DOCKER_SHIM), str(Path(sys.executable).parent),
                                     os.environ.get("PATH", "")]),
            "SAGEPIPE_HOME": str(self.settings.home), "SAGEPIPE_PORT": str(self.settings.port),
            "CODEBUILD_BUILD_ID": build["id"], "CODEBUILD_BUILD_ARN": build["arn"],
            "CODEBUILD_BUILD_NUMBER": str(build["buildNumber"]),
            "CODEBUILD_BUILD_IMAGE": project["environment"]["image"],
            "CODEBUILD_KMS_KEY_ID": project.get("encryptionKey") or "",
            "CODEBUILD_LOG_PATH": build["logs"]["streamName"],
            "CODEBUILD_SOURCE_VERSION": build.get("sourceVersion") or "",
            "CODEBUILD_SRC_DIR": str(work / "src"),
            "CODEBUILD_START_TIME": str(int(build["startTime"] * 1000)), "CODEBUILD_CI": "true"})
        for extra in self.plan.secondary:
            environment[f"CODEBUILD_SRC_DIR_{extra.identifier}"] = str(
                work / f"src_{extra.identifier}")
        return environment

    def _download(self, work: Path, environment: dict[str, str]) -> dict[str, Any] | None:
        """Fetch the sources (CodeBuild's DOWNLOAD_SOURCE) and read the buildspec."""
        (work / "src").mkdir(parents=True, exist_ok=True)
        try:
            if self.plan.source.type == "S3":
                metadata = self._fetch(self.plan.source, work / "src", work / "source.zip")
                revision = metadata.get(REVISION_METADATA) or self.plan.source.version
                initiator = metadata.get(INITIATOR_METADATA) or "sagepipe"
                environment["CODEBUILD_INITIATOR"] = initiator
                if revision:
                    environment["CODEBUILD_RESOLVED_SOURCE_VERSION"] = revision
                self._save(resolvedSourceVersion=revision, initiator=initiator)
            for extra in self.plan.secondary:
                self._fetch(extra, work / f"src_{extra.identifier}",
                            work / f"source_{extra.identifier}.zip")
        except (ClientError, BotoCoreError, ArchiveError, OSError) as exc:
            self._fail("CLIENT_ERROR", f"could not download the source: {_reason(exc)}")
            return None
        spec_text = self.plan.buildspec
        try:
            if "\n" in spec_text:
                return parse_buildspec(spec_text, "(inline)")
            return load_buildspec(work / "src" / (spec_text or "buildspec.yml"))
        except BuildspecError as exc:
            self._fail("YAML_FILE_ERROR", str(exc))
            return None

    def _fetch(self, source: Source, directory: Path, archive: Path) -> dict[str, str]:
        bucket, key = source.bucket_and_key()
        options = {"VersionId": source.version} if source.version and not source.identifier \
            else {}
        reply = client(self.settings, "s3").get_object(Bucket=bucket, Key=key, **options)
        with open(archive, "wb") as out:
            for chunk in reply["Body"].iter_chunks(1 << 20):
                out.write(chunk)
        unpack(archive, directory)
        self._say(f"Downloaded source s3://{bucket}/{key} to {directory}")
        return dict(reply.get("Metadata") or {})

    def _upload(self, spec: dict[str, Any], work: Path) -> bool:
        artifacts = self.plan.artifacts
        if artifacts["type"] != "S3":
            return True
        out = work / "out"
        try:
            collect_artifacts(spec, work / "src", out)
            bucket = artifacts["location"]
            parts = [artifacts.get("path")]
            if artifacts.get("namespaceType") == "BUILD_ID":
                parts.append(self.build_id.split(":", 1)[1])
            key = "/".join(filter(None, [*parts, artifacts.get("name")
                                         or self.plan.project["name"]]))
            s3 = client(self.settings, "s3")
            if artifacts.get("packaging") == "ZIP":
                s3.upload_file(str(pack(out, work / "artifacts.zip")), bucket, key)
            else:
                for path in sorted(p for p in out.rglob("*") if p.is_file()):
                    s3.upload_file(str(path), bucket, f"{key}/{path.relative_to(out).as_posix()}")
        except BuildspecError as exc:
            self._fail("CLIENT_ERROR", str(exc))
            return False
        except (ClientError, BotoCoreError, OSError) as exc:
            self._fail("CLIENT_ERROR", f"could not upload the artifacts: {_reason(exc)}")
            return False
        self._save(artifacts={"location": f"arn:aws:s3:::{bucket}/{key}"})
        self._say(f"Uploaded the artifacts to s3://{bucket}/{key}")
        return True

    # -- the document ---------------------------------------------------------------------------
    def _say(self, line: str) -> None:
        self.log.write(f"[Container] {time.strftime('%Y/%m/%d %H:%M:%S')} {line}")

    def _save(self, **changes: Any) -> None:
        self.build.update(changes)
        phases = self.build["phases"]
        self.build["currentPhase"] = phases[-1]["phaseType"] if phases else "QUEUED"
        snapshot = dict(self.build)
        self.docs.update("build", self.build_id, lambda doc: doc.update(snapshot))

    def _end_phase(self) -> list[Params]:
        """The phases with the open one closed SUCCEEDED (if none failed it)."""
        now = time.time()
        phases = [dict(p) for p in self.build["phases"]]
        if phases and "endTime" not in phases[-1]:
            phases[-1].update(phaseStatus="SUCCEEDED", endTime=now,
                              durationInSeconds=int(now - phases[-1]["startTime"]))
        return phases

    def _enter(self, phase: str) -> None:
        """Close the open phase and start `phase`."""
        self._say(f"Phase is {phase}")
        self._save(phases=[*self._end_phase(), {"phaseType": phase, "startTime": time.time()}])

    def _fail(self, code: str, message: str) -> None:
        phases = [dict(p) for p in self.build["phases"]]
        _close({"phases": phases}, "FAILED", (code, message))
        self._say(f"Phase context status code: {code} Message: {message}")
        self._save(phases=phases)

    def _complete(self, status: str) -> None:
        """FINALIZING, then COMPLETED (no status, as in CodeBuild), and the build's status."""
        self._enter("FINALIZING")
        self._enter("COMPLETED")
        self._say(f"Build {status}")
        self._save(buildStatus=status, buildComplete=True, endTime=time.time())


def _close(build: Params, status: str, context: tuple[str, str]) -> None:
    """Mark the open phase of `build` ended with `status` and CodeBuild's context."""
    phases = build["phases"]
    if not phases or "endTime" in phases[-1]:
        return
    now = time.time()
    phases[-1].update(phaseStatus=status, endTime=now,
                      durationInSeconds=int(now - phases[-1]["startTime"]),
                      contexts=[{"statusCode": context[0], "message": context[1]}])


def _phase(phase: Phase, build_status: str = "IN_PROGRESS") -> Params:
    """A buildspec phase as CodeBuild's BuildPhase."""
    doc: Params = {"phaseType": phase.name, "startTime": phase.start}
    if phase.end is not None or build_status != "IN_PROGRESS":
        end = phase.end or time.time()
        status = "SUCCEEDED" if phase.succeeded else (
            build_status if build_status in ("TIMED_OUT", "STOPPED") else "FAILED")
        doc.update(phaseStatus=status, endTime=end, durationInSeconds=int(end - phase.start))
        if not phase.succeeded:
            doc["contexts"] = [{"statusCode": "COMMAND_EXECUTION_ERROR",
                                "message": phase.failure or f"Build {build_status}"}]
    return doc


def _reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code')}: {error.get('Message')}"
    return str(exc)
