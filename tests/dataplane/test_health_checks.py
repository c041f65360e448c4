"""The containers' health check commands, run as written against real processes.

The images ship busybox `wget` (registry, nginx) and curl (SeaweedFS); Debian's busybox plays
the former here, so exit statuses and messages are busybox's own.
"""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from components import health
from components.renderers.seaweedfs import HEALTH_PATH
from testbench.sandbox import LOOPBACK, Sandbox, free_port

pytestmark = pytest.mark.dataplane


@pytest.fixture(scope="module")
def busybox_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A PATH whose `sh` and `wget` are busybox, as in the alpine-based images."""
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.fail("busybox is missing: install it with `apt-get install -y busybox` (or `make system-deps`)")
    bin_dir = tmp_path_factory.mktemp("busybox-bin")
    for applet in ("sh", "wget", "sed", "grep"):
        (bin_dir / applet).symlink_to(busybox)
    return f"{bin_dir}:{os.environ['PATH']}"


def run_check(
    command: list[str], path: str, replace: tuple[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a Docker/ECS health check (["CMD", ...]) as the engine would; `replace` retargets an address."""
    assert command[0] == "CMD"
    argv = command[1:]
    if replace is not None:
        argv = [part.replace(*replace) for part in argv]
    return subprocess.run(
        argv, env={**os.environ, "PATH": path}, capture_output=True, text=True, timeout=30, check=False
    )


class _Answer(http.server.BaseHTTPRequestHandler):
    status = 503

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def storage_down_registry() -> Iterator[int]:
    """A port answering 503 on `/`, as distribution does once its storage check fails."""
    server = http.server.ThreadingHTTPServer((LOOPBACK, 0), _Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def registry_port(sandbox: Sandbox) -> str:
    return sandbox.registry_urls[0].rsplit(":", 1)[1]


def test_registry_check_passes_on_a_live_registry(sandbox: Sandbox, busybox_path: str) -> None:
    done = run_check(
        health.registry_alive(5000), busybox_path, ("127.0.0.1:5000", f"127.0.0.1:{registry_port(sandbox)}")
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_registry_check_passes_when_only_storage_is_down(storage_down_registry: int, busybox_path: str) -> None:
    done = run_check(
        health.registry_alive(5000), busybox_path, ("127.0.0.1:5000", f"127.0.0.1:{storage_down_registry}")
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_registry_check_fails_when_nothing_answers(busybox_path: str) -> None:
    done = run_check(health.registry_alive(5000), busybox_path, ("127.0.0.1:5000", f"127.0.0.1:{free_port()}"))
    assert done.returncode == 1
    assert "can't connect" in done.stdout


def test_registry_check_fails_on_other_errors(busybox_path: str) -> None:
    _Answer.status = 500
    server = http.server.ThreadingHTTPServer((LOOPBACK, 0), _Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        done = run_check(health.registry_alive(5000), busybox_path, ("127.0.0.1:5000", f"127.0.0.1:{port}"))
    finally:
        server.shutdown()
        server.server_close()
        _Answer.status = 503
    assert done.returncode == 1 and "500" in done.stdout


def test_edge_check_uses_the_loopback_health_server(sandbox: Sandbox, busybox_path: str) -> None:
    port = sandbox.edge_health_url.rsplit(":", 1)[1].split("/", 1)[0]
    done = run_check(health.edge_alive(8081), busybox_path, ("127.0.0.1:8081", f"127.0.0.1:{port}"))
    assert done.returncode == 0, done.stderr
    dead = run_check(health.edge_alive(8081), busybox_path, ("127.0.0.1:8081", f"127.0.0.1:{free_port()}"))
    assert dead.returncode != 0


def test_object_store_check_uses_seaweedfs_health_route_and_fails_on_errors(
    sandbox: Sandbox, storage_down_registry: int
) -> None:
    port = sandbox.s3_endpoint.rsplit(":", 1)[1]
    path = os.environ["PATH"]
    assert run_check(health.object_store_alive(int(port), HEALTH_PATH), path).returncode == 0
    # -f: an error status fails the check (without it curl counts any reply as healthy)
    failing = run_check(health.object_store_alive(storage_down_registry, HEALTH_PATH), path)
    assert failing.returncode == 22


def test_redis_check_reads_the_password_from_the_config(tmp_path: Path, busybox_path: str) -> None:
    """The check's sed extracts exactly the password redis.conf holds (redis-cli then gets it as REDISCLI_AUTH)."""
    config = tmp_path / "redis.conf"
    config.write_text('port 6379\nrequirepass "s3cr3tPW"\nmaxmemory 256mb\n')
    script = health.redis_alive(str(config))[3]
    extraction = script.split('"$(', 1)[1].split(')" redis-cli', 1)[0]
    done = subprocess.run(
        ["sh", "-c", extraction], env={"PATH": busybox_path}, capture_output=True, text=True, timeout=10, check=False
    )
    assert done.stdout == "s3cr3tPW\n"
