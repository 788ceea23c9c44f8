"""The local CodeBuild: projects, and builds that really run (builds.py), over CodeBuild's table of
the store. A project and a build are stored as the documents BatchGetProjects and BatchGetBuilds
return; a build's run updates its document as its phases go.

Builds take their source from S3 (a zip, as CodePipeline hands its artifacts over: StartBuild
with `sourceTypeOverride` S3) or from nothing (NO_SOURCE with an inline buildspec); a project
whose source is CODEPIPELINE is built by its pipeline. Other source types (GITHUB, CODECOMMIT,
...) are refused with the reason.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from sagepipe.codebuild.builds import BuildPlan, BuildRun, settle
from sagepipe.codebuild.exceptions import (
    InvalidInputException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from sagepipe.config import Settings, arn
from sagepipe.documents import Documents
from sagepipe.store import Store

Params = dict[str, Any]
PAGE = 100  # ids or names per page of ListBuilds*, ListProjects
PROJECT_DEFAULTS: Params = {"timeoutInMinutes": 60, "queuedTimeoutInMinutes": 480,
                            "badge": {"badgeEnabled": False}, "projectVisibility": "PRIVATE"}


class CodeBuild:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.settings = settings
        self.docs = Documents(store, "codebuild", not_found=ResourceNotFoundException,
                              in_use=ResourceAlreadyExistsException)
        self._runs: dict[str, BuildRun] = {}
        self._lock = threading.Lock()

    # -- gateway life cycle ------------------------------------------------------------------
    def start(self) -> None:
        """Builds a previous gateway left running ended with it: their shells are killed and
        they end FAILED, saying why."""
        for build in self.docs.all("build"):
            if not build["buildComplete"]:
                self.docs.update("build", build["id"], lambda doc: settle(self.settings, doc))

    def shutdown(self) -> None:
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:
            run.stop("the local AWS is shutting down")
        for run in runs:
            run.join(30)

    # -- projects ----------------------------------------------------------------------------
    def project_arn(self, name: str) -> str:
        return arn("codebuild", f"project/{name}", self.settings.region)

    def create_project(self, params: Params) -> Params:
        _check_project(params)
        now = time.time()
        project = {**PROJECT_DEFAULTS, **params, "arn": self.project_arn(params["name"]),
                   "encryptionKey": params.get("encryptionKey") or arn(
                       "kms", "alias/aws/s3", self.settings.region),
                   "created": now, "lastModified": now}
        try:
            self.docs.create("project", params["name"], project)
        except ResourceAlreadyExistsException:
            raise ResourceAlreadyExistsException(
                f"Project already exists: {project['arn']}") from None
        return {"project": project}

    def update_project(self, params: Params) -> Params:
        def change(project: Params) -> None:
            project.update(params, lastModified=time.time())
            _check_project(project)

        try:
            return {"project": self.docs.update("project", params["name"], change)}
        except ResourceNotFoundException:
            raise ResourceNotFoundException(
                f"Project cannot be found: {self.project_arn(params['name'])}") from None

    def delete_project(self, params: Params) -> Params:
        """As in AWS, deleting a project that does not exist succeeds; its builds stay."""
        if self.docs.find("project", _name(params["name"])) is not None:
            self.docs.delete("project", _name(params["name"]))
        return {}

    def batch_get_projects(self, params: Params) -> Params:
        found, missing = [], []
        for name in params["names"]:
            project = self.docs.find("project", _name(name))
            (found.append(project) if project else missing.append(name))
        return {"projects": found, "projectsNotFound": missing}

    def list_projects(self, params: Params) -> Params:
        key = {"CREATED_TIME": "created", "LAST_MODIFIED_TIME": "lastModified"}.get(
            params.get("sortBy", "NAME"), "name")
        projects = sorted(self.docs.all("project"), key=lambda p: p[key],
                          reverse=params.get("sortOrder", "ASCENDING") == "DESCENDING")
        return _page([p["name"] for p in projects], params, "projects")

    def _project(self, name: str) -> Params:
        project = self.docs.find("project", _name(name))
        if project is None:
            raise ResourceNotFoundException(f"Project cannot be found: {self.project_arn(name)}")
        return project

    # -- builds ------------------------------------------------------------------------------
    def start_build(self, params: Params) -> Params:
        project = self._project(params["projectName"])
        plan = BuildPlan.of(project, params, self.settings)
        build_uuid = str(uuid.uuid4())
        build_id = f"{project['name']}:{build_uuid}"
        with self._lock:  # build numbers count up per project
            number = 1 + sum(1 for b in self.docs.all("build")
                             if b["projectName"] == project["name"])
            build = plan.document(build_id, number, self.settings)
            self.docs.create("build", build_id, build)
            run = BuildRun(self.docs, build, plan, self.settings, self._forget)
            self._runs[build_id] = run
        run.start()
        return {"build": build}

    def _forget(self, run: BuildRun) -> None:
        with self._lock:
            self._runs.pop(run.build_id, None)

    def batch_get_builds(self, params: Params) -> Params:
        found, missing = [], []
        for build_id in params["ids"]:
            build = self.docs.find("build", _build_id(build_id))
            (found.append(build) if build else missing.append(build_id))
        return {"builds": found, "buildsNotFound": missing}

    def list_builds_for_project(self, params: Params) -> Params:
        name = _name(params["projectName"])
        self._project(name)
        return self._list_builds([b for b in self.docs.all("build") if b["projectName"] == name],
                                 params)

    def list_builds(self, params: Params) -> Params:
        return self._list_builds(self.docs.all("build"), params)

    def _list_builds(self, builds: list[Params], params: Params) -> Params:
        """Newest first unless ASCENDING (ties by build number: starts in one second)."""
        builds = sorted(builds, key=lambda b: (b["startTime"], b["buildNumber"]),
                        reverse=params.get("sortOrder", "DESCENDING") == "DESCENDING")
        return _page([b["id"] for b in builds], params, "ids")

    def stop_build(self, params: Params) -> Params:
        build_id = _build_id(params["id"])
        if self.docs.find("build", build_id) is None:
            raise ResourceNotFoundException(f"Build {params['id']} does not exist")
        with self._lock:
            run = self._runs.get(build_id)
        if run is not None:
            run.stop("stopped by StopBuild")
        return {"build": self.docs.get("build", build_id)}


def _check_project(project: Params) -> None:
    source, artifacts = project["source"]["type"], project["artifacts"]["type"]
    if (source == "CODEPIPELINE") != (artifacts == "CODEPIPELINE"):
        raise InvalidInputException(
            f"Invalid project: source type {source} with artifacts type {artifacts}; a project "
            "built by CodePipeline has both of type CODEPIPELINE")
    for variable in project["environment"].get("environmentVariables") or []:
        if not variable["name"]:
            raise InvalidInputException("Invalid environment variable: its name is empty")


def _name(name_or_arn: str) -> str:
    """A project's name from its name or ARN (`arn:...:project/<name>`)."""
    return name_or_arn.split(":project/", 1)[1] if name_or_arn.startswith("arn:") else name_or_arn


def _build_id(id_or_arn: str) -> str:
    """A build's id from its id or ARN (`arn:...:build/<project>:<uuid>`)."""
    return id_or_arn.split(":build/", 1)[1] if id_or_arn.startswith("arn:") else id_or_arn


def _page(items: list[str], params: Params, key: str) -> Params:
    token = params.get("nextToken")
    if token is not None and not (token.isascii() and token.isdigit() and len(token) < 10):
        raise InvalidInputException(f"Invalid nextToken {token!r}: pass the nextToken of the "
                                    "previous page")
    start = int(token or 0)
    answer: Params = {key: items[start:start + PAGE]}
    if start + PAGE < len(items):
        answer["nextToken"] = str(start + PAGE)
    return answer
