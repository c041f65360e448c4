"""The edge survives a dead registry, and refuses every write it should."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from components.renderers.htpasswd import sha512_crypt
from testbench.sandbox import Sandbox, SandboxUser, generate_password
from tests.dataplane.helpers import both_versions, edge_client, edge_host
from tools.oci_image import OciImage, build_image, write_oci_layout
from tools.skopeo import Skopeo, SkopeoFailed
from tools.verify import CheckFailed, pull_image

pytestmark = [pytest.mark.dataplane, both_versions]
PULLS = 100
KILL_AFTER = 20
KILLED = 1  # registry index


def test_killing_one_of_three_registries_fails_no_pull(
    sandbox: Sandbox, reader: SandboxUser, small_image: tuple[str, OciImage]
) -> None:
    repository, image = small_image
    error_log = sandbox.dir / "logs" / "edge.log"
    killed_port = sandbox.registry_urls[KILLED].rsplit(":", 1)[1]
    log_size = error_log.stat().st_size
    failures: list[str] = []
    try:
        with edge_client(sandbox, reader) as client:
            for attempt in range(PULLS):
                if attempt == KILL_AFTER:
                    sandbox.kill(f"registry-{KILLED}")
                try:
                    pull_image(client, repository, "v1", image)
                except (CheckFailed, httpx.HTTPError) as err:
                    failures.append(f"pull {attempt}: {err}")
        # nginx really met the dead instance and moved on (not luck of the round robin)
        assert killed_port in error_log.read_text()[log_size:]
    finally:
        sandbox.start_registry(KILLED)
    assert failures == []


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_pull_only_user_cannot_write(
    sandbox: Sandbox, reader: SandboxUser, method: str, small_image: tuple[str, OciImage]
) -> None:
    repository, image = small_image
    path = f"/v2/{repository}/blobs/uploads/" if method == "POST" else f"/v2/{repository}/manifests/v1"
    with edge_client(sandbox, reader) as client:
        assert client.get("/v2/").status_code == 200  # the password is right: refused for the method only
        refused = client.request(method, path, content=image.manifest)
    # 403 with the registry's own error shape: clients print "denied", not "authentication required"
    assert refused.status_code == 403
    assert refused.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    assert refused.json()["errors"][0]["code"] == "DENIED"
    assert "WWW-Authenticate" not in refused.headers


@pytest.mark.parametrize("who", ["anonymous", "wrong-password", "pull-only"])
def test_skopeo_push_refused(
    sandbox: Sandbox, skopeo: Skopeo, pusher: SandboxUser, reader: SandboxUser, who: str, tmp_path: Path
) -> None:
    credentials = {
        "anonymous": ["--dest-cert-dir", str(skopeo.cert_dir)],
        "wrong-password": skopeo.tls_flags("dest", pusher.name, pusher.password + "x"),
        "pull-only": skopeo.tls_flags("dest", reader.name, reader.password),
    }[who]
    source = write_oci_layout(build_image([4096]), tmp_path / "image", "v1")
    says = "denied: requested access to the resource is denied" if who == "pull-only" else "authentication required"
    with pytest.raises(SkopeoFailed, match=says):
        skopeo.copy(source, f"docker://{edge_host(sandbox)}/refused/{who}:v1", credentials)
    with edge_client(sandbox, pusher) as client:
        assert client.get(f"/v2/refused/{who}/manifests/v1").status_code == 404


def test_anonymous_and_wrong_password_get_401_with_api_version(sandbox: Sandbox, pusher: SandboxUser) -> None:
    wrong = SandboxUser(pusher.name, pusher.password[:-1], pusher.access)
    for user in (None, wrong):
        with edge_client(sandbox, user) as client:
            for response in (client.get("/v2/"), client.post("/v2/any/repo/blobs/uploads/")):
                assert response.status_code == 401
                assert response.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
                assert response.headers["WWW-Authenticate"].startswith("Basic ")


@pytest.mark.parametrize("rounds", [1000, 5000, 50_000])
def test_nginx_verifies_sha512_crypt_hashes(sandbox: Sandbox, rounds: int) -> None:
    """glibc's crypt(3) in nginx accepts our pure-Python hashes, default and explicit rounds alike."""
    password = generate_password(32)
    shipped = sandbox.htpasswd_file.read_text()
    line = f"probe:{sha512_crypt(password, generate_password(16), rounds)}\n"
    sandbox.htpasswd_file.write_text(shipped + line)  # nginx reads the file on every request
    try:
        right = SandboxUser("probe", password, "pull")
        wrong = SandboxUser("probe", password.swapcase(), "pull")
        with edge_client(sandbox, right) as client:
            assert client.get("/v2/").status_code == 200
        with edge_client(sandbox, wrong) as client:
            assert client.get("/v2/").status_code == 401
    finally:
        sandbox.htpasswd_file.write_text(shipped)
