"""Reading a Dockerfile (sagepipe/images/dockerfile.py) and building a directory image from it
(sagepipe/images/build.py): what is honoured, what is named in warnings, what fails."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sagepipe.errors import ValidationException
from sagepipe.images import ImageRegistry, UnknownImage
from sagepipe.images.build import BuildError, build
from sagepipe.images.dockerfile import DEFAULT_PATH, Copy, DockerfileError, Run, parse
from sagepipe.namespaces import NONE, isolation
from sagepipe.store import Store


def test_parse_follows_dockers_rules():
    recipe = parse("""# syntax comment
ARG BASE=python:3.11-slim
FROM builder AS stage1
RUN make
FROM ${BASE}
ARG APP=/srv/app
ENV A=1 B="two words" \\
    PATH="${APP}/bin:${PATH}"
ENV LEGACY value with spaces
WORKDIR $APP
COPY --chown=x:y requirements.txt ./
ADD ["data dir", "sub/"]
RUN pip install -r requirements.txt && useradd -m "svc" ; echo ${A:-none} ${MISSING:-fallback}
ENTRYPOINT python -m app
CMD ["ignored"]
""", {})
    assert recipe.base == "python:3.11-slim"
    assert recipe.env["B"] == "two words" and recipe.env["LEGACY"] == "value with spaces"
    assert recipe.env["PATH"] == f"/srv/app/bin:{DEFAULT_PATH}"
    assert recipe.workdir == "/srv/app"
    copies = [s for s in recipe.steps if isinstance(s, Copy)]
    assert copies[0].sources == ["requirements.txt"]
    assert copies[0].destination == "/srv/app/"  # `./` is the directory
    assert copies[1].destination == "/srv/app/sub/" and copies[1].add
    runs = [s for s in recipe.steps if isinstance(s, Run)]
    assert [r.words[:2] for r in runs] == [["pip", "install"], ["useradd", "-m"],
                                            ["echo", "1"]]
    assert runs[1].text == 'useradd -m "svc"'  # quotes kept for the shell
    assert runs[2].words == ["echo", "1", "fallback"]
    assert recipe.entrypoint == ["/bin/sh", "-c", "python -m app"]
    assert any("only the final stage is built" in n for n in recipe.notes)


def test_parse_refuses_what_is_not_a_dockerfile():
    with pytest.raises(DockerfileError, match="no FROM"):
        parse("RUN true\n")
    with pytest.raises(DockerfileError, match="line 2: unknown instruction FORM"):
        parse("FROM x\nFORM y\n")


def image(tmp_path: Path, dockerfile: str, **files: str) -> Path:
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(dockerfile)
    for name, text in files.items():
        (context / name).write_text(text)
    return context


def test_build_lays_out_the_layer_reuses_installed_packages_and_is_cached(tmp_path):
    context = image(tmp_path, "FROM python:3.11-slim\nWORKDIR /opt/program\n"
                    "COPY requirements.txt serve ./\nRUN pip install -r requirements.txt\n"
                    'ENV PATH="/opt/program:${PATH}"\n',
                    **{"requirements.txt": "httpx==0.28.1\n", "serve": "#!/bin/sh\n"})
    config = build(context, context / "Dockerfile", {}, isolation())
    layer = Path(config["layer"])
    assert (layer / "opt/program/serve").read_text() == "#!/bin/sh\n"
    assert config["workdir"] == "/opt/program"
    assert config["env"]["PATH"].startswith("/opt/program:")
    venv = Path(config["python"]).parent
    site = next(venv.glob("lib/python*/site-packages"))
    # httpx==0.28.1 is the local AWS's own: reused, not installed again
    assert not list(site.glob("httpx*"))
    assert (site / "_sagepipe_reuse.pth").read_text().strip()
    assert (venv / "bin/httpx").read_text().startswith(f"#!{venv}/bin/python\n")
    assert config["warnings"] == []
    assert build(context, context / "Dockerfile", {}, isolation()) == config  # cached
    (context / "serve").write_text("#!/bin/sh\necho changed\n")
    assert build(context, context / "Dockerfile", {}, isolation())["layer"] != str(layer)


def test_build_names_what_a_directory_image_cannot_honour(tmp_path):
    context = image(tmp_path, "FROM debian:12\n"
                    "RUN apt-get update && apt-get install -y --no-install-recommends "
                    "libssl-dev sagepipe-no-such-command\n"
                    "USER nobody\nCOPY --from=builder /x /y\n", train="#!/bin/sh\n")
    warnings = build(context, context / "Dockerfile", {}, NONE)["warnings"]
    assert any(w.startswith("FROM debian:12: a directory image has no base image") for w in
               warnings)
    [apt] = [w for w in warnings if w.startswith("RUN apt-get install")]
    assert "host must provide their commands (sagepipe-no-such-command)" in apt
    assert "missing here: sagepipe-no-such-command (apt-get install -y " in apt
    assert any("USER nobody is not honoured" in w for w in warnings)
    assert any("COPY --from=builder is not honoured" in w for w in warnings)


@pytest.mark.skipif(not isolation().overlay, reason="this machine allows no overlay mounts")
def test_run_lines_run_in_a_sandbox_whose_writes_become_the_layer(tmp_path):
    context = image(tmp_path, "FROM python:3.11-slim\nCOPY tool /opt/tool/\n"
                    "RUN chmod 700 /opt/tool/tool && mkdir -p /var/lib/made "
                    "&& echo inside > /var/lib/made/file && python3 -c 'import sys' "
                    "> /opt/tool/python-ran\n", tool="x")
    layer = Path(build(context, context / "Dockerfile", {}, isolation())["layer"])
    assert (layer / "var/lib/made/file").read_text() == "inside\n"
    assert (layer / "opt/tool/tool").stat().st_mode & 0o777 == 0o700
    assert (layer / "opt/tool/python-ran").exists()
    assert not Path("/var/lib/made").exists()  # the host is untouched


def test_build_failures_say_what_failed(tmp_path):
    missing = image(tmp_path, "FROM python:3.11-slim\nCOPY nothing-here /x/\n")
    with pytest.raises(BuildError, match="COPY nothing-here: no such file in the build"):
        build(missing, missing / "Dockerfile", {}, NONE)
    failing = tmp_path / "failing"
    failing.mkdir()
    (failing / "Dockerfile").write_text(
        "FROM python:3.11-slim\nRUN pip install --no-index sagepipe-no-such-package==1.0\n")
    with pytest.raises(BuildError, match=r"(?s)pip install exited with 1.*"
                                         r"sagepipe-no-such-package"):
        build(failing, failing / "Dockerfile", {}, NONE)


def test_the_image_venv_runs_a_package_the_local_venv_lacks(tmp_path):
    """The per-image venv really installs what is missing (humanize, from the package index
    pip is configured with) and still sees the local AWS's own packages (httpx)."""
    context = image(tmp_path, "FROM python:3.11-slim\nRUN pip install humanize==4.17.0\n")
    config = build(context, context / "Dockerfile", {}, NONE)
    python = Path(config["python"]) / "python"
    done = subprocess.run([str(python), "-c", "import httpx, humanize, json, sys; "
                           "print(json.dumps([humanize.intcomma(1234567), sys.prefix]))"],
                          capture_output=True, text=True, check=True)
    number, prefix = json.loads(done.stdout)
    assert number == "1,234,567" and prefix != sys.prefix


def test_registration_refuses_a_bad_build_and_warns_of_an_image_without_entry_points(tmp_path):
    registry = ImageRegistry(Store(tmp_path / "state.db"))
    context = image(tmp_path, "FROM python:3.11-slim\nCOPY helper.py /opt/tools/\n",
                    **{"helper.py": "print('hi')\n"})
    registered = registry.register(context, "local/tools:1")
    assert any("neither a `train` nor a `serve` executable" in w and
               "only processing jobs that name their ContainerEntrypoint" in w
               for w in registered.warnings)
    assert registry.resolve("local/tools:1").layer == registered.layer
    (context / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY missing /x/\n")
    with pytest.raises(ValidationException, match=r"building local/tools:2 from .*Dockerfile: "
                                                  r"COPY missing: no such file"):
        registry.register(context, "local/tools:2")
    with pytest.raises(UnknownImage):
        registry.resolve("local/tools:2")  # nothing half-registered
