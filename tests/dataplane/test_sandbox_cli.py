"""`python -m testbench.sandbox` itself: one JSON line when ready, clean exit on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from testbench.sandbox import ROOT

pytestmark = pytest.mark.dataplane
READY_TIMEOUT = 90


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_cli_prints_one_json_line_and_stops_everything_on_sigterm() -> None:
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "testbench.sandbox", "--replicas", "2"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert sandbox.stdout is not None
    try:
        ready, _, _ = select.select([sandbox.stdout], [], [], READY_TIMEOUT)
        assert ready, f"no JSON line within {READY_TIMEOUT}s"
        info = json.loads(sandbox.stdout.readline())
        assert {"url", "ca_file", "users", "registries", "s3_endpoint", "bucket", "redis", "workdir"} <= set(info)
        assert {(u["name"], u["access"]) for u in info["users"]} == {
            ("admin", "admin"),
            ("ci", "push"),
            ("dev", "pull"),
        }
        assert all(len(u["password"]) == 32 for u in info["users"])
        assert len(info["registries"]) == 2
        ci = next(u for u in info["users"] if u["access"] == "push")
        answer = httpx.get(
            f"{info['url']}/v2/",
            verify=ssl.create_default_context(cafile=info["ca_file"]),
            auth=(ci["name"], ci["password"]),
            timeout=10,
        )
        assert answer.status_code == 200
        pids = [r["pid"] for r in info["registries"]] + [info["edge_pid"]]
        assert all(_alive(pid) for pid in pids)

        sandbox.send_signal(signal.SIGTERM)
        assert sandbox.wait(timeout=30) == 0
        assert not any(_alive(pid) for pid in pids)
        assert not Path(info["workdir"]).exists()
    finally:
        if sandbox.poll() is None:
            sandbox.kill()
            sandbox.wait(timeout=30)


def test_cli_names_what_to_install_when_binaries_are_missing(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "testbench.sandbox"],
        cwd=ROOT,
        env={**os.environ, "PATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    message = done.stderr.strip()
    assert len(message.splitlines()) == 1
    # distribution 3 is a build of ours (make system-deps), Debian's docker-registry only serves version "2"
    assert "missing nginx, redis-server: install with `apt-get install -y nginx redis-server`" in message


def _start_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "testbench.sandbox", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_cli_exits_non_zero_naming_a_process_that_died() -> None:
    sandbox = _start_cli("--replicas", "1")
    assert sandbox.stdout is not None and sandbox.stderr is not None
    try:
        ready, _, _ = select.select([sandbox.stdout], [], [], READY_TIMEOUT)
        assert ready, f"no JSON line within {READY_TIMEOUT}s"
        info = json.loads(sandbox.stdout.readline())
        os.kill(info["registries"][0]["pid"], signal.SIGKILL)
        assert sandbox.wait(timeout=30) == 1
        message = sandbox.stderr.read()
        assert "registry-0 exited with status -9" in message
        assert f"logs kept in {info['workdir']}" in message
        assert not _alive(info["edge_pid"]), "the rest is stopped"
        assert (Path(info["workdir"]) / "logs" / "registry-0.log").is_file()
    finally:
        if sandbox.poll() is None:
            sandbox.kill()
            sandbox.wait(timeout=30)
        shutil.rmtree(info["workdir"], ignore_errors=True)


def test_a_port_in_use_points_at_a_log_that_exists() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "testbench.sandbox", "--replicas", "1", "--port", str(port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 2
    log = Path(re.search(r"see (\S+\.log)", done.stderr).group(1))  # type: ignore[union-attr]
    try:
        assert log.is_file() and "Address already in use" in log.read_text()
        assert "Address already in use" in done.stderr
    finally:
        shutil.rmtree(log.parents[1], ignore_errors=True)


@pytest.mark.parametrize("value", ["0", "51", "two"])
def test_a_bad_replica_count_names_the_flag(value: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "testbench.sandbox", "--replicas", value],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert "argument --replicas: --replicas must be" in done.stderr
