"""Which local AWS a command acts on, and the faults around starting and stopping one: every
command is a client of the running instance and says which it used; nothing is written behind a
stopped one's back; `down` stops by the recorded pid, busy or not; a taken port is said in one
line with what holds it and the `--port` to use."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from testkit import REPO, STUB_IMAGE_DIR, free_port

from sagepipe.processes import alive, start_ticks

pytestmark = pytest.mark.local_aws  # its tests start a local AWS of their own

BIN = Path(sys.executable).parent
SCRUBBED = ("AWS_ENDPOINT_URL", "SAGEPIPE_HOME", "SAGEPIPE_PORT")


@pytest.fixture
def user(tmp_path):
    """`sagepipe ...` as a user with no variables set, in a directory that is not a git
    checkout (default home: ./.sagepipe), with an instance registry of its own."""
    cwd = tmp_path / "work"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    started: list[list[str]] = []

    def sagepipe(*args: str, check: bool = True, extra: dict[str, str] | None = None):
        if "up" in args:
            started.append([a for a in args if a != "up"])
        done = subprocess.run([str(BIN / "sagepipe"), *args], capture_output=True, text=True,
                              timeout=120, cwd=cwd, env={**env, **(extra or {})})
        if check and done.returncode != 0:
            raise AssertionError(f"{args} exited {done.returncode}:\n{done.stdout}\n"
                                 f"{done.stderr}")
        return done

    sagepipe.cwd = cwd
    sagepipe.env = env
    yield sagepipe
    for homes in started:
        home = homes[homes.index("--home") + 1] if "--home" in homes else None
        if home:
            sagepipe("--home", home, "down", check=False)


def test_a_command_without_home_finds_the_running_instance_and_says_so(user, tmp_path):
    home, port = tmp_path / "elsewhere", free_port()
    user("up", "--home", str(home), "--port", str(port))
    registered = user("image", "register", str(STUB_IMAGE_DIR), "--uri", "local/echo:found")
    assert f"local AWS: http://127.0.0.1:{port} (home {home})" in registered.stderr
    assert "registered local/echo:found" in registered.stdout
    listed = user("--home", str(home), "image", "list")
    assert "local/echo:found" in listed.stdout
    assert not (user.cwd / ".sagepipe").exists()  # nothing written into the default home
    exports = user("env").stdout
    assert f"export AWS_ENDPOINT_URL=http://127.0.0.1:{port}" in exports
    by_url = user("jobs", extra={"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"})
    assert f"local AWS: http://127.0.0.1:{port} (home {home})" in by_url.stderr


def test_with_two_instances_running_a_command_asks_which(user, tmp_path):
    homes = [tmp_path / "one", tmp_path / "two"]
    for home in homes:
        user("up", "--home", str(home), "--port", str(free_port()))
    for command in ("jobs", "down"):
        refused = user(command, check=False)
        assert refused.returncode == 1
        assert "several local AWS instances run" in refused.stderr
        assert all(f"--home {home}" in refused.stderr for home in homes)


def test_registering_an_image_with_the_local_aws_down_fails_and_writes_nothing(user):
    refused = user("image", "register", str(STUB_IMAGE_DIR), "--uri", "local/echo:1", check=False)
    assert refused.returncode == 1
    assert "the local AWS is not running" in refused.stderr and "sagepipe up" in refused.stderr
    assert not (user.cwd / ".sagepipe").exists()


def test_the_build_docker_goes_through_the_local_aws_too(user, tmp_path):
    home, port = tmp_path / "build-home", free_port()
    image = tmp_path / "image"
    shutil.copytree(STUB_IMAGE_DIR, image)
    (image / "Dockerfile").write_text("FROM scratch\n")
    docker = [sys.executable, str(REPO / "sagepipe" / "codebuild" / "bin" / "docker")]
    env = {**user.env, "SAGEPIPE_HOME": str(home), "SAGEPIPE_PORT": str(port)}
    down = subprocess.run([*docker, "build", "-t", "local/echo:shim", str(image)],
                          capture_output=True, text=True, env=env, cwd=user.cwd)
    assert down.returncode == 1 and "is not running" in down.stderr
    assert not (home / "state.db").exists()
    user("up", "--home", str(home), "--port", str(port))
    built = subprocess.run([*docker, "build", "-t", "local/echo:shim", str(image)],
                           capture_output=True, text=True, env=env, cwd=user.cwd)
    assert built.returncode == 0, built.stderr
    pushed = subprocess.run([*docker, "push", "local/echo:shim"], capture_output=True,
                            text=True, env=env, cwd=user.cwd)
    assert pushed.returncode == 0, pushed.stderr
    assert "local/echo:shim" in user("--home", str(home), "image", "list").stdout


def test_down_stops_a_gateway_too_busy_to_answer(user, tmp_path):
    home, port = tmp_path / "busy", free_port()
    user("up", "--home", str(home), "--port", str(port))
    pid = json.loads((home / "gateway.json").read_text())["pid"]
    ticks = start_ticks(pid)
    os.kill(pid, signal.SIGSTOP)  # answers nothing, as on a machine too busy to schedule it
    resume = threading.Timer(2.0, os.kill, (pid, signal.SIGCONT))
    resume.start()
    try:
        stopped = user("--home", str(home), "down")
    finally:
        resume.join()
    assert "stopped" in stopped.stderr and "not running" not in stopped.stderr
    assert not alive(pid, ticks)  # it has exited, not just been asked to
    assert "was not running" in user("--home", str(home), "down").stderr


def test_a_taken_port_is_said_in_one_line_with_what_holds_it(user, tmp_path):
    port = free_port()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        refused = user("up", "--home", str(tmp_path / "a"), "--port", str(port), check=False)
    assert refused.returncode == 1
    line = refused.stderr.strip()
    assert "\n" not in line
    assert f"port {port} is taken by pid {os.getpid()} (" in line
    assert "use another one: `--port " in line

    user("up", "--home", str(tmp_path / "first"), "--port", str(port))
    refused = user("up", "--home", str(tmp_path / "second"), "--port", str(port), check=False)
    assert refused.returncode == 1
    assert (f"port {port} is taken by another local AWS (home {tmp_path / 'first'}, pid "
            in refused.stderr)
    assert "use another one: `--port " in refused.stderr


def test_up_twice_reuses_the_running_instance(user, tmp_path):
    home, port = tmp_path / "twice", free_port()
    first = user("up", "--home", str(home), "--port", str(port))
    again = user("up", "--home", str(home))  # no --port: the recorded one
    assert first.stdout == again.stdout
    other = user("up", "--home", str(home), "--port", str(free_port()), check=False)
    assert other.returncode == 1 and f"already runs on port {port}" in other.stderr
