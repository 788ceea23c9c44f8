"""Local Lambda: functions, their versions, permissions and asynchronous-invocation settings as
documents of the store (`lambda_resources`: each document is what Lambda's Get* call returns),
their code as packages under the home (code.py), their invocations run by the one runtime
(runtime.py), asynchronous ones queued (events.py).

Methods take the operation's input members and return its output members (botocore's names).
Configuration changes take effect at once: the work a change implies (storing and unpacking
the code) is done before the answer, so a function is `Active` and its last update
`Successful` when CreateFunction or an update answers, and the waiters
(`function_active_v2`, `function_updated_v2`) pass on their first call. Sandboxes running an
older configuration retire as their invocation ends.

Emulated: Zip packages of Python functions (python3.12 and newer, run by this machine's Python
with the package first on sys.path), versions, resource policies (recorded: the local AWS
does not enforce IAM), tags, event invoke configs with Lambda destinations. Refused with a
clear error: container images, layers, file systems, aliases.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sagepipe.awslambda.checks import (
    check_limits,
    check_runtime,
    checked_payload,
    client_context,
    invalid,
)
from sagepipe.awslambda.code import CodePackages, Package
from sagepipe.awslambda.events import Event, EventQueue, Outcome
from sagepipe.awslambda.exceptions import (
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
    TooManyRequestsException,
)
from sagepipe.awslambda.runtime import FunctionSpec, Invocation, Runtime
from sagepipe.clients import INTERNAL_SERVICE, local_env
from sagepipe.config import Settings, arn
from sagepipe.documents import Document, Documents
from sagepipe.errors import AWSError
from sagepipe.s3.object_store import ObjectStore
from sagepipe.store import Store

log = logging.getLogger(__name__)

LATEST = "$LATEST"
FUNCTION, VERSION, POLICY, EVENT_CONFIG = "function", "version", "policy", "event-invoke-config"
CODE_URL_SECONDS = 600  # how long GetFunction's Code.Location stays valid
MAX_RETRIES, MAX_EVENT_AGE = 2, 21600
FUNCTION_NAME = re.compile(
    r"^(?:arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:(?P<account>\d{12}):function:"
    r"|(?P<partial>\d{12}):function:)?(?P<name>[a-zA-Z0-9_.-]+)"
    r"(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?$")


def now_text() -> str:
    """LastModified as Lambda writes it: `2024-01-31T12:00:00.000+0000`."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


class LambdaBackend:
    def __init__(self, store: Store, settings: Settings, s3: ObjectStore) -> None:
        self.settings = settings
        self.docs = Documents(store, "lambda_resources", not_found=ResourceNotFoundException,
                              in_use=ResourceConflictException)
        self.code = CodePackages(settings.home / "lambda", s3)
        self.runtime = Runtime(settings, lambda: local_env(settings))
        self.events = EventQueue(store, self._run_event, self._finish_event, self._event_policy)
        self.lock = threading.RLock()

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        with self.lock:
            self._sweep()
        self.events.start()

    def shutdown(self) -> None:
        self.events.shutdown()
        self.runtime.shutdown()

    # -- names ---------------------------------------------------------------------------------
    def function_arn(self, name: str, qualifier: str | None = None) -> str:
        return arn("lambda", f"function:{name}" + (f":{qualifier}" if qualifier else ""),
                   self.settings.region)

    def _name(self, function_name: str, qualifier: str | None = None) -> tuple[str, str | None]:
        """(name, qualifier) of a FunctionName given as a name, an ARN or a partial ARN."""
        found = FUNCTION_NAME.match(function_name)
        if not found:
            raise invalid(f"Function name {function_name!r} is not a name or ARN of a function.")
        derived = found["qualifier"]
        if derived and qualifier and derived != qualifier:
            raise invalid("The derived qualifier from the function name does not match the "
                          "specified qualifier.")
        return found["name"], derived or qualifier

    def _function(self, name: str) -> Document:
        doc = self.docs.find(FUNCTION, name)
        if doc is None:
            raise ResourceNotFoundException(f"Function not found: {self.function_arn(name)}")
        return doc

    def _configuration(self, name: str, qualifier: str | None) -> Document:
        """The configuration of the function version `qualifier` names ($LATEST if None)."""
        if qualifier in (None, LATEST):
            return dict(self._function(name)["Configuration"])
        version = self.docs.find(VERSION, f"{name}:{qualifier}")
        if version is None:
            raise ResourceNotFoundException(
                f"Function not found: {self.function_arn(name, qualifier)}")
        return dict(version["Configuration"])

    @staticmethod
    def _check_revision(config: Document, revision: str | None) -> None:
        if revision and revision != config["RevisionId"]:
            raise PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. Call the "
                "GetFunction/GetAlias API to retrieve the latest Revision Id")

    # -- functions -----------------------------------------------------------------------------
    def create_function(self, params: dict[str, Any]) -> Document:
        name, qualifier = self._name(params["FunctionName"])
        if qualifier:
            raise invalid("A function name cannot carry a qualifier when it is created.")
        if params.get("PackageType", "Zip") != "Zip":
            raise invalid("PackageType Image is not emulated by sagepipe's local Lambda: it "
                          "runs Zip packages of Python functions.")
        check_runtime(params.get("Runtime"), params.get("Handler"))
        check_limits(params)
        with self.lock:
            if self.docs.find(FUNCTION, name) is not None:
                raise ResourceConflictException(f"Function already exist: {name}")
            package = self._package(params.get("Code") or {})
            config = self._settings({
                "FunctionName": name, "FunctionArn": self.function_arn(name),
                "Description": "", "Timeout": 3, "MemorySize": 128, "Version": LATEST,
                "TracingConfig": {"Mode": "PassThrough"}, "PackageType": "Zip",
                "Architectures": ["x86_64"], "EphemeralStorage": {"Size": 512},
                "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
                "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"},
                "State": "Active", "LastUpdateStatus": "Successful"}, params, package)
            self.docs.create(FUNCTION, name, {"Configuration": config,
                                              "Tags": dict(params.get("Tags") or {}),
                                              "LastVersion": 0})
            if params.get("Publish"):
                return self._publish(name, None, None)
        return config

    def _package(self, code: Mapping[str, Any]) -> Package:
        if code.get("ImageUri"):
            raise invalid("ImageUri is not emulated by sagepipe's local Lambda: it runs Zip "
                          "packages of Python functions.")
        if code.get("S3ObjectVersion"):
            raise invalid("S3ObjectVersion is not emulated locally: give S3Bucket and S3Key "
                          "of the object's current version.")
        if code.get("ZipFile") is not None:
            if code.get("S3Bucket") or code.get("S3Key"):
                raise invalid("Please provide either ZipFile or S3Bucket and S3Key, not both.")
            return self.code.store(code["ZipFile"])
        if code.get("S3Bucket") and code.get("S3Key"):
            return self.code.store_from_s3(code["S3Bucket"], code["S3Key"])
        raise invalid("Please provide a source for function code.")

    @staticmethod
    def _settings(config: Document, params: Mapping[str, Any],
                  package: Package | None = None) -> Document:
        """`config` with the settings `params` gives (and the code of `package`) applied, as
        a new revision."""
        updated = dict(config)
        for member in ("Runtime", "Role", "Handler", "Description", "Timeout", "MemorySize",
                       "KMSKeyArn", "Architectures", "EphemeralStorage", "SnapStart"):
            if params.get(member) is not None:
                updated[member] = params[member]
        for member in ("TracingConfig", "LoggingConfig", "DeadLetterConfig", "VpcConfig"):
            if params.get(member) is not None:
                updated[member] = {**updated.get(member, {}), **params[member]}
        if params.get("Environment") is not None:
            variables = params["Environment"].get("Variables") or {}
            updated["Environment"] = {"Variables": {str(k): str(v) for k, v in variables.items()}}
        if package is not None:
            updated["CodeSha256"], updated["CodeSize"] = package.code_sha256, package.size
        updated["LastModified"] = now_text()
        updated["RevisionId"] = str(uuid.uuid4())
        return updated

    def get_function(self, params: dict[str, Any]) -> Document:
        name, qualifier = self._name(params["FunctionName"], params.get("Qualifier"))
        config = self._configuration(name, qualifier)
        package = Package.of(config["CodeSha256"], config["CodeSize"])
        return {"Configuration": config, "Tags": self._function(name)["Tags"],
                "Code": {"RepositoryType": "S3", "Location": self._code_url(package)}}

    def get_function_configuration(self, params: dict[str, Any]) -> Document:
        return self._configuration(*self._name(params["FunctionName"], params.get("Qualifier")))

    def list_functions(self, params: dict[str, Any]) -> Document:
        configs = [doc["Configuration"] for doc in self.docs.all(FUNCTION)]
        if params.get("FunctionVersion") == "ALL":
            configs += [doc["Configuration"] for doc in self.docs.all(VERSION)]
        configs.sort(key=lambda c: (c["FunctionName"], _version_key(c["Version"])))
        page, marker = self._page([(c["FunctionArn"], c) for c in configs], params)
        return {"Functions": page, "NextMarker": marker}

    @staticmethod
    def _page(items: list[tuple[str, Document]], params: Mapping[str, Any]
              ) -> tuple[list[Document], str | None]:
        """One page of `items` (sorted (key, item) pairs): after the Marker, MaxItems long."""
        start = 0
        if params.get("Marker"):
            try:
                after = base64.urlsafe_b64decode(params["Marker"]).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise invalid("Invalid marker: give the NextMarker of the previous page.") \
                    from None
            start = next((i + 1 for i, (key, _) in enumerate(items) if key == after), 0)
        size = int(params.get("MaxItems") or 50)
        page = items[start:start + size]
        more = start + size < len(items)
        marker = base64.urlsafe_b64encode(page[-1][0].encode()).decode() if more else None
        return [item for _, item in page], marker

    def update_function_code(self, params: dict[str, Any]) -> Document:
        name, _ = self._name(params["FunctionName"])
        with self.lock:
            current = self._function(name)["Configuration"]
            self._check_revision(current, params.get("RevisionId"))
            package = self._package(params)
            config = self._settings(current, {"Architectures": params.get("Architectures")},
                                    package)
            if params.get("DryRun"):
                return config
            self.docs.update(FUNCTION, name, lambda doc: doc.update(Configuration=config))
            if params.get("Publish"):
                return self._publish(name, None, None)
        return config

    def update_function_configuration(self, params: dict[str, Any]) -> Document:
        name, _ = self._name(params["FunctionName"])
        check_limits(params)
        with self.lock:
            current = self._function(name)["Configuration"]
            self._check_revision(current, params.get("RevisionId"))
            config = self._settings(current, params)
            check_runtime(config.get("Runtime"), config.get("Handler"))
            self.docs.update(FUNCTION, name, lambda doc: doc.update(Configuration=config))
        return config

    def delete_function(self, params: dict[str, Any]) -> Document:
        name, qualifier = self._name(params["FunctionName"], params.get("Qualifier"))
        with self.lock:
            if qualifier == LATEST:
                raise invalid("$LATEST version cannot be deleted without deleting the function.")
            if qualifier is not None:
                self._configuration(name, qualifier)
                self.docs.delete(VERSION, f"{name}:{qualifier}")
            else:
                self._function(name)
                for kind in (VERSION, POLICY, EVENT_CONFIG):
                    for doc in self.docs.all(kind):
                        if doc["Function"] == name:
                            self.docs.delete(kind, doc["Key"])
                self.docs.delete(FUNCTION, name)
                self.events.drop(name)
                self.runtime.retire(name)
            self._sweep()
        return {"StatusCode": 204}

    def _sweep(self) -> None:
        """Remove the packages nothing uses any more."""
        referenced = {Package.of(doc["Configuration"]["CodeSha256"], 0).sha256
                      for kind in (FUNCTION, VERSION) for doc in self.docs.all(kind)}
        self.code.sweep(referenced | self.runtime.codes_in_use())

    def _code_url(self, package: Package) -> str:
        """A presigned URL of the package on the gateway's own routes, as Lambda gives a
        presigned S3 URL (valid ten minutes)."""
        credentials = self.settings.credentials
        request = AWSRequest(method="GET", url=f"{self.settings.endpoint_url}/_sagepipe/lambda/"
                                               f"code/{package.sha256}")
        SigV4QueryAuth(Credentials(credentials.access_key_id, credentials.secret_access_key),
                       INTERNAL_SERVICE, self.settings.region,
                       expires=CODE_URL_SECONDS).add_auth(request)
        return str(request.url)

    def code_file(self, sha256: str) -> bytes:
        """The package whose sha256 is `sha256` (the route behind Code.Location)."""
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise ResourceNotFoundException("No such code package.")
        path = self.code.zip_path(Package(sha256, 0))
        if not path.is_file():
            raise ResourceNotFoundException("No such code package.")
        return path.read_bytes()

    # -- versions ------------------------------------------------------------------------------
    def publish_version(self, params: dict[str, Any]) -> Document:
        name, _ = self._name(params["FunctionName"])
        with self.lock:
            return self._publish(name, params.get("CodeSha256"), params.get("RevisionId"),
                                 params.get("Description"))

    def _publish(self, name: str, code_sha256: str | None, revision: str | None,
                 description: str | None = None) -> Document:
        """Publish $LATEST as a version; the latest version if nothing changed since it."""
        function = self._function(name)
        latest = function["Configuration"]
        self._check_revision(latest, revision)
        if code_sha256 and code_sha256 != latest["CodeSha256"]:
            raise invalid(f"CodeSHA256 ({code_sha256}) is different from current CodeSHA256 in "
                          f"$LATEST ({latest['CodeSha256']}). Please try again with the "
                          "CodeSHA256 in $LATEST.")
        if function["LastVersion"]:
            previous = self.docs.find(VERSION, f"{name}:{function['LastVersion']}")
            if previous and previous["Source"] == latest["RevisionId"]:
                return dict(previous["Configuration"])
        number = str(function["LastVersion"] + 1)
        config = {**latest, "Version": number, "FunctionArn": self.function_arn(name, number),
                  "RevisionId": str(uuid.uuid4()), "LastModified": now_text()}
        if description is not None:
            config["Description"] = description
        self.docs.put(VERSION, f"{name}:{number}", {"Function": name, "Key": f"{name}:{number}",
                                                    "Source": latest["RevisionId"],
                                                    "Configuration": config})
        self.docs.update(FUNCTION, name, lambda doc: doc.update(LastVersion=int(number)))
        return config

    def list_versions_by_function(self, params: dict[str, Any]) -> Document:
        name, _ = self._name(params["FunctionName"])
        versions = sorted((doc["Configuration"] for doc in self.docs.all(VERSION)
                           if doc["Function"] == name), key=lambda c: _version_key(c["Version"]))
        configs = [self._function(name)["Configuration"], *versions]
        page, marker = self._page([(c["FunctionArn"], c) for c in configs], params)
        return {"Versions": page, "NextMarker": marker}

    # -- invocations ---------------------------------------------------------------------------
    def invoke(self, params: dict[str, Any], request_id: str) -> Document:
        """Invoke: RequestResponse runs now; Event is queued (202); DryRun checks (204)."""
        name, qualifier = self._name(params["FunctionName"], params.get("Qualifier"))
        config = self._configuration(name, qualifier)
        kind = params.get("InvocationType") or "RequestResponse"
        payload = checked_payload(params.get("Payload") or b"", kind)
        if kind == "DryRun":
            return {"StatusCode": 204}
        if kind == "Event":
            self.events.put(name, config["Version"], payload, request_id)
            return {"StatusCode": 202}
        answer = self.run(config, payload, request_id,
                          self.function_arn(name, qualifier), client_context(
                              params.get("ClientContext")))
        result: Document = {"StatusCode": 200, "Payload": answer.payload,
                            "ExecutedVersion": config["Version"],
                            "FunctionError": answer.function_error}
        if params.get("LogType") == "Tail":
            result["LogResult"] = answer.log_result
        return result

    def run(self, config: Mapping[str, Any], payload: bytes, request_id: str,
            invoked_arn: str, context: Any = None) -> Invocation:
        """Run one invocation of the function version `config` in the runtime."""
        package = Package.of(config["CodeSha256"], config["CodeSize"])
        spec = FunctionSpec(
            name=config["FunctionName"], version=config["Version"], handler=config["Handler"],
            runtime=config["Runtime"], timeout=config["Timeout"], memory=config["MemorySize"],
            environment=(config.get("Environment") or {}).get("Variables") or {},
            code=package.sha256, task_root=self.code.task_root(package),
            log_group=config["LoggingConfig"]["LogGroup"], revision=config["RevisionId"])
        return self.runtime.invoke(spec, payload, request_id, invoked_arn, context)

    def invoke_function(self, function_name: str, payload: bytes) -> Invocation:
        """A synchronous invocation from another local service (API Gateway's proxy
        integration): the function's answer as it came, errors included."""
        name, qualifier = self._name(function_name)
        config = self._configuration(name, qualifier)
        return self.run(config, checked_payload(payload, "RequestResponse"), str(uuid.uuid4()),
                        self.function_arn(name, qualifier))

    def _run_event(self, event: Event) -> tuple[str, bytes, str | None]:
        try:
            config = self._configuration(event.function, event.qualifier)
        except ResourceNotFoundException:
            return Outcome.GONE, b"", None
        try:
            answer = self.run(config, event.payload, event.request_id,
                              self.function_arn(event.function, event.qualifier))
        except TooManyRequestsException:
            return Outcome.THROTTLED, b"", None
        outcome = Outcome.FAILED if answer.function_error else Outcome.SUCCEEDED
        return outcome, answer.payload, answer.function_error

    def _event_policy(self, event: Event) -> tuple[int, int]:
        config = self._event_config(event.function, event.qualifier) or {}
        return (config.get("MaximumRetryAttempts", MAX_RETRIES),
                config.get("MaximumEventAgeInSeconds", MAX_EVENT_AGE))

    def _finish_event(self, event: Event, condition: str, payload: bytes,
                      error: str | None) -> None:
        """Send a finished event where the function's configuration says: its destinations
        (a Lambda function is invoked with Lambda's destination record; other targets are
        recorded in the gateway log, not emulated) or its dead-letter queue."""
        config = self._event_config(event.function, event.qualifier) or {}
        destinations = config.get("DestinationConfig") or {}
        succeeded = condition == "Success"
        target = (destinations.get("OnSuccess" if succeeded else "OnFailure") or {}) \
            .get("Destination")
        if not succeeded and not target:
            function = self.docs.find(FUNCTION, event.function)
            target = ((function or {}).get("Configuration", {}).get("DeadLetterConfig") or {}) \
                .get("TargetArn")
            if not target:
                log.warning("asynchronous invocation %s of %s failed (%s) and was dropped: "
                            "the function has no on-failure destination", event.request_id,
                            event.function, condition)
                return
        if not target:
            return
        record = destination_record(event, condition, payload, error,
                                    self.function_arn(event.function, event.qualifier))
        found = re.match(r"^arn:aws[a-zA-Z-]*:lambda:[^:]+:\d{12}:function:(.+)$", target)
        if found is None:
            log.warning("destination %s of %s is not emulated locally; the record of "
                        "invocation %s was: %s", target, event.function, event.request_id,
                        json.dumps(record))
            return
        name, qualifier = self._name(found[1])
        self.events.put(name, qualifier or LATEST, json.dumps(record).encode())

    # -- asynchronous invocation settings ------------------------------------------------------
    def _event_config(self, name: str, qualifier: str | None) -> Document | None:
        doc = self.docs.find(EVENT_CONFIG, f"{name}:{qualifier or LATEST}")
        return None if doc is None else doc["Config"]

    def put_function_event_invoke_config(self, params: dict[str, Any],
                                         merge: bool = False) -> Document:
        name, qualifier = self._name(params["FunctionName"], params.get("Qualifier"))
        config = self._configuration(name, qualifier)
        key = f"{name}:{qualifier or LATEST}"
        with self.lock:
            previous = (self._event_config(name, qualifier) or {}) if merge else {}
            settings = {member: params[member] for member in
                        ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")
                        if params.get(member) is not None}
            document = {**previous, **settings, "FunctionArn": config["FunctionArn"],
                        "LastModified": time.time()}
            self.docs.put(EVENT_CONFIG, key, {"Function": name, "Key": key, "Config": document})
        return document

    def update_function_event_invoke_config(self, params: dict[str, Any]) -> Document:
        self.get_function_event_invoke_config(params)
        return self.put_function_event_invoke_config(params, merge=True)

    def get_function_event_invoke_config(self, params: dict[str, Any]) -> Document:
        name, qualifier = self._name(params["FunctionName"], params.get("Qualifier"))
        config = self._event_config(name, qualifier)
        if config is None:
            raise ResourceNotFoundException(f"The function {self.function_arn(name, qualifier)} "
                                            "doesn't have an EventInvokeConfig")
        return config

    def delete_function_event_invoke_config(self, params: dict[str, Any]) -> None:
        self.get_function_event_invoke_config(params)
        name, qualifier = self._name(params["FunctionName"], params.get("Qualifier"))
        self.docs.delete(EVENT_CONFIG, f"{name}:{qualifier or LATEST}")

    # -- resource policies (recorded: the local AWS does not enforce IAM) ----------------------
    def add_permission(self, params: dict[str, Any]) -> Document:
        name, qualifier = self._name(params["FunctionName"], params.get("Qualifier"))
        config = self._configuration(name, qualifier)
        self._check_revision(config, params.get("RevisionId"))
        key = f"{name}:{qualifier or LATEST}"
        statement = permission_statement(params, config["FunctionArn"])
        with self.lock:
            policy = self.docs.find(POLICY, key) or {"Function": name, "Key": key, "Policy": {
                "Version": "2012-10-17", "Id": "default", "Statement": []}}
            if any(s["Sid"] == statement["Sid"] for s in policy["Policy"]["Statement"]):
                raise ResourceConflictException(
                    f"The statement id ({statement['Sid']}) provided already exists. Please "
                    "choose a new statement id, or remove the existing statement.")
            policy["Policy"]["Statement"].append(statement)
            self.docs.put(POLICY, key, policy)
        return {"Statement": json.dumps(statement)}

    def remove_permission(self, params: dict[str, Any]) -> None:
        name, qualifier = self._name(params["FunctionName"], params.get("Qualifier"))
        config = self._configuration(name, qualifier)
        self._check_revision(config, params.get("RevisionId"))
        key = f"{name}:{qualifier or LATEST}"
        with self.lock:
            policy = self.docs.find(POLICY, key)
            statements = (policy or {}).get("Policy", {}).get("Statement", [])
            kept = [s for s in statements if s["Sid"] != params["StatementId"]]
            if policy is None or len(kept) == len(statements):
                raise ResourceNotFoundException(
                    f"Statement {params['StatementId']} is not found in resource policy.")
            policy["Policy"]["Statement"] = kept
            if kept:
                self.docs.put(POLICY, key, policy)
            else:
                self.docs.delete(POLICY, key)

    def get_policy(self, params: dict[str, Any]) -> Document:
        name, qualifier = self._name(params["FunctionName"], params.get("Qualifier"))
        config = self._configuration(name, qualifier)
        policy = self.docs.find(POLICY, f"{name}:{qualifier or LATEST}")
        if policy is None:
            raise ResourceNotFoundException("The resource you requested does not exist.")
        return {"Policy": json.dumps(policy["Policy"]), "RevisionId": config["RevisionId"]}

    # -- tags ----------------------------------------------------------------------------------
    def _tagged(self, resource: str) -> str:
        name, qualifier = self._name(resource)
        if qualifier or not resource.startswith("arn:"):
            raise invalid(f"{resource} is not the ARN of a function (tags are on unqualified "
                          "function ARNs).")
        self._function(name)
        return name

    def tag_resource(self, params: dict[str, Any]) -> None:
        name = self._tagged(params["Resource"])
        self.docs.update(FUNCTION, name, lambda doc: doc["Tags"].update(params["Tags"]))

    def untag_resource(self, params: dict[str, Any]) -> None:
        name = self._tagged(params["Resource"])
        self.docs.update(FUNCTION, name, lambda doc: doc.update(Tags={
            k: v for k, v in doc["Tags"].items() if k not in params["TagKeys"]}))

    def list_tags(self, params: dict[str, Any]) -> Document:
        return {"Tags": self._function(self._tagged(params["Resource"]))["Tags"]}

    # -- for other local services --------------------------------------------------------------
    def exists(self, function_name: str) -> bool:
        try:
            self._configuration(*self._name(function_name))
        except AWSError:
            return False
        return True


def _version_key(version: str) -> int:
    return 0 if version == LATEST else int(version)


def permission_statement(params: Mapping[str, Any], function_arn: str) -> Document:
    """A resource policy statement as Lambda writes one for AddPermission."""
    principal = params["Principal"]
    if principal == "*":
        who: Any = "*"
    elif re.fullmatch(r"\d{12}", principal):
        who = {"AWS": f"arn:aws:iam::{principal}:root"}
    elif principal.startswith("arn:"):
        who = {"AWS": principal}
    else:
        who = {"Service": principal}
    statement: Document = {"Sid": params["StatementId"], "Effect": "Allow", "Principal": who,
                           "Action": params["Action"], "Resource": function_arn}
    condition: Document = {}
    if params.get("SourceArn"):
        condition["ArnLike"] = {"AWS:SourceArn": params["SourceArn"]}
    if params.get("SourceAccount"):
        condition["StringEquals"] = {"AWS:SourceAccount": params["SourceAccount"]}
    if params.get("PrincipalOrgID"):
        condition.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = params["PrincipalOrgID"]
    if condition:
        statement["Condition"] = condition
    return statement


def destination_record(event: Event, condition: str, payload: bytes, error: str | None,
                       function_arn: str) -> Document:
    """What Lambda sends a destination about a finished asynchronous invocation."""
    try:
        response: Any = json.loads(payload) if payload else None
    except ValueError:
        response = payload.decode(errors="replace")
    record: Document = {
        "version": "1.0", "timestamp": dt.datetime.now(dt.UTC).isoformat(
            timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {"requestId": event.request_id, "functionArn": function_arn,
                           "condition": condition, "approximateInvokeCount": event.attempts},
        "requestPayload": json.loads(event.payload),
        "responseContext": {"statusCode": 200, "executedVersion": event.qualifier},
        "responsePayload": response}
    if error:
        record["responseContext"]["functionError"] = error
    return record

