"""The edge as an attacker meets it: forged forwarding headers, foreign Host names, weak TLS
suites, and the health endpoints the containers and the load balancer use."""

from __future__ import annotations

import http.server
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator

import httpx
import pytest

from testbench.sandbox import LOOPBACK, Sandbox, SandboxUser, local_settings
from tests.dataplane.helpers import edge_client

pytestmark = pytest.mark.dataplane

FORGED = {
    "X-Forwarded-Host": "evil.example:8080",
    "X-Forwarded-Proto": "http",
    "X-Forwarded-Port": "8080",
    "Forwarded": 'for=1.2.3.4;host="evil.example:8080";proto=http',
}
# TLS 1.2 suites the edge must refuse: CBC, CCM8 and static RSA (no forward secrecy)
WEAK_EC = ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384", "ECDHE-ECDSA-AES128-CCM8", "ECDHE-ECDSA-AES128-CCM"]
WEAK_RSA = [
    "AES128-GCM-SHA256",
    "AES256-SHA",
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-RSA-AES256-SHA384",
    "DHE-RSA-AES128-GCM-SHA256",
]


def edge_port(sandbox: Sandbox) -> int:
    return int(sandbox.url.rsplit(":", 1)[1])


def start_upload(sandbox: Sandbox, user: SandboxUser, host: str | None = None, **headers: str) -> httpx.Response:
    if host is not None:
        headers["Host"] = host
    with edge_client(sandbox, user) as client:
        return client.post("/v2/hardening/app/blobs/uploads/", headers=headers)


def handshake(port: int, *flags: str) -> tuple[bool, str]:
    """openssl s_client against the edge: (handshake completed, negotiated cipher line)."""
    done = subprocess.run(
        ["openssl", "s_client", "-connect", f"{LOOPBACK}:{port}", "-servername", "localhost", *flags],
        input="",
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    cipher = next((line for line in done.stdout.splitlines() if "Cipher is" in line), "")
    return done.returncode == 0 and "(NONE)" not in cipher, cipher


@pytest.fixture(scope="module")
def rsa_sandbox() -> Iterator[Sandbox]:
    with Sandbox(local_settings(replicas=1), rsa_server_key=True) as running:
        yield running


@pytest.fixture(scope="module")
def openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        pytest.fail("openssl is missing: install it with `apt-get install -y openssl` (or `make system-deps`)")
    return path


def test_forged_forwarding_headers_do_not_steer_upload_locations(sandbox: Sandbox, pusher: SandboxUser) -> None:
    response = start_upload(sandbox, pusher, **FORGED)
    assert response.status_code == 202
    assert response.headers["Location"].startswith(f"https://127.0.0.1:{edge_port(sandbox)}/v2/hardening/app/")


def test_a_certificate_name_with_another_port_still_gets_the_published_port(
    sandbox: Sandbox, pusher: SandboxUser
) -> None:
    for host, expected in (("localhost:1", "https://localhost"), (f"[::1]:{edge_port(sandbox)}", "https://[::1]")):
        response = start_upload(sandbox, pusher, host=host)
        assert response.status_code == 202, host
        assert response.headers["Location"].startswith(f"{expected}:{edge_port(sandbox)}/v2/"), host


@pytest.mark.parametrize("host", ["evil.example", "registry.example.com", f"10.9.8.7:{1234}"])
def test_a_host_the_certificate_does_not_name_is_refused(sandbox: Sandbox, pusher: SandboxUser, host: str) -> None:
    with edge_client(sandbox, pusher) as client:
        refused = client.get("/v2/", headers={"Host": host})
    assert refused.status_code == 421
    assert refused.json()["errors"][0]["code"] == "DENIED"


def test_the_v2_redirect_keeps_the_published_port(sandbox: Sandbox, reader: SandboxUser) -> None:
    with edge_client(sandbox, reader) as client:
        redirect = client.get("/v2")
        assert redirect.status_code == 301 and redirect.headers["Location"] == "/v2/"
        followed = client.get("/v2", follow_redirects=True)
    assert followed.status_code == 200 and str(followed.url) == f"{sandbox.url}/v2/"


def test_pull_only_write_is_denied_only_after_the_password_is_checked(
    sandbox: Sandbox, reader: SandboxUser, pusher: SandboxUser
) -> None:
    """A wrong password is 401 for readers and writers alike: the 403 reveals nothing unauthenticated."""
    for name in (reader.name, pusher.name, "nobody"):
        with edge_client(sandbox, SandboxUser(name, "wrong", "pull")) as client:
            assert client.post("/v2/hardening/app/blobs/uploads/").status_code == 401, name
    assert start_upload(sandbox, reader).status_code == 403


@pytest.mark.usefixtures("openssl")
@pytest.mark.parametrize("suite", WEAK_EC)
def test_weak_tls12_suites_are_refused_with_an_ecdsa_certificate(sandbox: Sandbox, suite: str) -> None:
    completed, cipher = handshake(edge_port(sandbox), "-tls1_2", "-cipher", suite)
    assert not completed, cipher


@pytest.mark.usefixtures("openssl")
@pytest.mark.parametrize("suite", WEAK_RSA)
def test_weak_tls12_suites_are_refused_with_an_rsa_certificate(rsa_sandbox: Sandbox, suite: str) -> None:
    completed, cipher = handshake(edge_port(rsa_sandbox), "-tls1_2", "-cipher", suite)
    assert not completed, cipher


@pytest.mark.usefixtures("openssl")
def test_forward_secret_aead_suites_and_tls13_are_offered(sandbox: Sandbox, rsa_sandbox: Sandbox) -> None:
    for box, suite in ((sandbox, "ECDHE-ECDSA-AES128-GCM-SHA256"), (rsa_sandbox, "ECDHE-RSA-CHACHA20-POLY1305")):
        completed, cipher = handshake(edge_port(box), "-tls1_2", "-cipher", suite)
        assert completed and suite in cipher
    completed, cipher = handshake(edge_port(sandbox), "-tls1_3")
    assert completed and "TLSv1.3" in cipher
    assert not handshake(edge_port(sandbox), "-tls1_1")[0]


def test_health_endpoints_answer_without_auth(sandbox: Sandbox) -> None:
    """What the edge container's health check and the load balancer's target check call."""
    assert httpx.get(sandbox.edge_health_url, timeout=5).status_code == 200
    with edge_client(sandbox, None) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/healthz", headers={"Host": "10.0.0.5:8443"}).status_code == 200  # ALB checks by IP


class _StorageDown(http.server.BaseHTTPRequestHandler):
    """What distribution answers on `/` once its storage health check fails."""

    def do_GET(self) -> None:
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"storagedriver_s3": "s3aws: connection refused"}')

    def log_message(self, *args: object) -> None:
        pass


def test_health_fails_when_no_registry_runs_but_not_when_storage_is_down() -> None:
    """An S3 blip makes every registry answer 503: health must stay green (no fleet restart);
    a dead registry process must turn it red."""
    with Sandbox(local_settings(replicas=1)) as box:
        port = int(box.registry_urls[0].rsplit(":", 1)[1])
        box.kill("registry-0")
        assert httpx.get(box.edge_health_url, timeout=10).status_code == 502
        server = http.server.ThreadingHTTPServer((LOOPBACK, port), _StorageDown)
        server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            loopback = httpx.get(box.edge_health_url, timeout=10)
            with edge_client(box, None) as client:
                public = client.get("/healthz")
                pulled = client.get("/v2/", auth=(box.user("pull").name, box.user("pull").password))
        finally:
            server.shutdown()
            server.server_close()
    for answer in (loopback, public):
        assert answer.status_code == 200 and answer.text == "registry up, storage unavailable\n"
    assert pulled.status_code == 503  # requests themselves still say what is wrong
