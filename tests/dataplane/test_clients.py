"""Real clients through the edge: oras, crane, cosign and notation (the pinned versions `make
system-deps` installs into .tools), each checked by digests read back over the registry API.

The sandbox runs distribution 2.8, which has no OCI referrers API: cosign stores signatures under
`sha256-<hex>.sig` tags, notation under the referrers tag schema `sha256-<hex>` (oras-go
registry/remote/repository.go, referrers tag schema), both of which are plain tags here.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from components.renderers.signing import cosign_private_key
from testbench.sandbox import Sandbox, SandboxUser
from tests.dataplane.helpers import edge_client, edge_host
from tools.clients import binary
from tools.cosign import SIGNATURE_ANNOTATION, signature_tag, verify_signature
from tools.oci_image import INDEX_TYPE, MANIFEST_TYPE, OciImage, sha256_digest
from tools.verify import Credentials, run_checks

pytestmark = pytest.mark.dataplane
ARTIFACT_TYPE = "application/vnd.example.report.v1+json"
NOTARY_SIGNATURE = "application/vnd.cncf.notary.signature"
CLIENT_TIMEOUT = 120


class Clients:
    """Runs the pinned clients with the sandbox CA as their only trust root (Go's SSL_CERT_FILE)
    and a home of their own (docker config, notation config)."""

    def __init__(self, sandbox: Sandbox, home: Path):
        self.sandbox, self.home = sandbox, home
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": str(home),
            "DOCKER_CONFIG": str(home / "docker"),
            "NOTATION_CONFIG": str(home / "notation"),
            "SSL_CERT_FILE": str(sandbox.ca_file),
            "COSIGN_PASSWORD": "cosign-key-password",
        }

    def run(self, client: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [binary(client), *args],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=CLIENT_TIMEOUT,
            check=False,
        )
        if check and done.returncode != 0:
            pytest.fail(f"{client} {args[0]} exited {done.returncode}: {done.stderr.strip()[-1500:]}")
        return done


@pytest.fixture(scope="module")
def clients(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Clients:
    return Clients(sandbox, tmp_path_factory.mktemp("clients-home"))


def manifest(client: httpx.Client, repository: str, reference: str) -> tuple[str, dict[str, Any]]:
    """(digest computed from the bytes, parsed manifest) of a manifest read over the API."""
    response = client.get(
        f"/v2/{repository}/manifests/{reference}", headers={"Accept": f"{MANIFEST_TYPE}, {INDEX_TYPE}"}
    )
    assert response.status_code == 200, (repository, reference, response.text)
    return sha256_digest(response.content), json.loads(response.content)


# ---------------------------------------------------------------- oras


def test_oras_pushes_and_pulls_an_artifact_with_its_type_and_annotation(
    sandbox: Sandbox, clients: Clients, pusher: SandboxUser, reader: SandboxUser, tmp_path: Path
) -> None:
    report = clients.home / "report.json"
    report.write_text('{"findings": 0}\n')
    target = f"{edge_host(sandbox)}/clients/oras-report:v1"
    pushed = json.loads(
        clients.run(
            "oras",
            "push",
            target,
            "report.json:application/json",
            "--artifact-type",
            ARTIFACT_TYPE,
            "--annotation",
            "org.example.team=registry",
            "-u",
            pusher.name,
            "-p",
            pusher.password,
            "--format",
            "json",
        ).stdout
    )
    with edge_client(sandbox, reader) as client:
        digest, stored = manifest(client, "clients/oras-report", "v1")
    assert pushed["digest"] == digest
    assert stored["artifactType"] == ARTIFACT_TYPE
    assert stored["annotations"]["org.example.team"] == "registry"
    [layer] = stored["layers"]
    assert layer["digest"] == sha256_digest(report.read_bytes()) and layer["mediaType"] == "application/json"
    out = tmp_path / "pulled"
    clients.run("oras", "pull", target, "-o", str(out), "-u", reader.name, "-p", reader.password)
    assert (out / "report.json").read_bytes() == report.read_bytes()


# ---------------------------------------------------------------- crane


def test_crane_copies_lists_reads_a_digest_and_deletes_a_manifest(
    sandbox: Sandbox, clients: Clients, admin: SandboxUser, small_image: tuple[str, OciImage]
) -> None:
    repository, image = small_image
    host = edge_host(sandbox)
    clients.run("crane", "auth", "login", host, "-u", admin.name, "-p", admin.password)  # it deletes too
    clients.run("crane", "copy", f"{host}/{repository}:v1", f"{host}/clients/crane-copy:v2")
    assert clients.run("crane", "ls", f"{host}/clients/crane-copy").stdout.split() == ["v2"]
    assert clients.run("crane", "digest", f"{host}/clients/crane-copy:v2").stdout.strip() == image.manifest_digest
    with edge_client(sandbox, admin) as client:
        assert manifest(client, "clients/crane-copy", "v2")[0] == image.manifest_digest  # copied byte for byte
        clients.run("crane", "delete", f"{host}/clients/crane-copy@{image.manifest_digest}")
        gone = client.get(
            f"/v2/clients/crane-copy/manifests/{image.manifest_digest}", headers={"Accept": MANIFEST_TYPE}
        )
        assert gone.status_code == 404
        assert manifest(client, repository, "v1")[0] == image.manifest_digest  # the source is untouched


# ---------------------------------------------------------------- cosign


@pytest.fixture(scope="module")
def cosign_keys(clients: Clients) -> tuple[Path, str]:
    """cosign's key file as the local target hands it out: a pulumi-tls ECDSA P-256 key (SEC 1 PEM)
    rendered by components.renderers.signing.cosign_private_key with the stack's password (what
    COSIGN_PASSWORD holds). Returns (cosign.key, the public key PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    cosign_key = clients.home / "cosign.key"
    cosign_key.write_text(cosign_private_key(pem, clients.env["COSIGN_PASSWORD"]))
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cosign_key, public.decode()


def cosign_sign(clients: Clients, key: Path, reference: str, user: SandboxUser) -> subprocess.CompletedProcess[str]:
    return clients.run(
        "cosign",
        "sign",
        "--key",
        str(key),
        "--tlog-upload=false",
        "--yes",
        "--registry-username",
        user.name,
        "--registry-password",
        user.password,
        reference,
        check=False,
    )


def test_cosign_signs_offline_under_the_sig_tag_and_verifies(
    sandbox: Sandbox,
    clients: Clients,
    pusher: SandboxUser,
    reader: SandboxUser,
    small_image: tuple[str, OciImage],
    cosign_keys: tuple[Path, str],
) -> None:
    repository, image = small_image
    key, public_pem = cosign_keys
    reference = f"{edge_host(sandbox)}/{repository}@{image.manifest_digest}"
    signed = cosign_sign(clients, key, reference, pusher)
    assert signed.returncode == 0, signed.stderr
    with edge_client(sandbox, reader) as client:
        _, signatures = manifest(client, repository, signature_tag(image.manifest_digest))
        [layer] = signatures["layers"]
        payload = json.loads(client.get(f"/v2/{repository}/blobs/{layer['digest']}").content)
        assert payload["critical"]["image"]["docker-manifest-digest"] == image.manifest_digest
        assert layer["annotations"][SIGNATURE_ANNOTATION]
        # our own check (tools.verify --require-signature) agrees with cosign's
        assert "signed by the key" in verify_signature(client, repository, image.manifest_digest, public_pem)
    (clients.home / "verify.pub").write_text(public_pem)
    verified = clients.run(
        "cosign",
        "verify",
        "--key",
        "verify.pub",
        "--insecure-ignore-tlog=true",
        "--registry-username",
        reader.name,
        "--registry-password",
        reader.password,
        reference,
    )
    [claim] = json.loads(verified.stdout)
    assert claim["critical"]["image"]["docker-manifest-digest"] == image.manifest_digest


def test_a_pull_only_user_can_verify_but_not_sign(
    sandbox: Sandbox, clients: Clients, reader: SandboxUser, cosign_keys: tuple[Path, str], tmp_path: Path
) -> None:
    key, _ = cosign_keys
    image = _pushed_image(sandbox, "clients/reader-signs")
    refused = cosign_sign(clients, key, f"{edge_host(sandbox)}/clients/reader-signs@{image.manifest_digest}", reader)
    assert refused.returncode != 0
    assert "DENIED" in refused.stderr or "403" in refused.stderr, refused.stderr
    with edge_client(sandbox, reader) as client:
        missing = client.get(f"/v2/clients/reader-signs/manifests/{signature_tag(image.manifest_digest)}")
        assert missing.status_code == 404  # nothing was stored


def test_tools_verify_requires_a_signature_by_the_stacks_key(
    sandbox: Sandbox,
    clients: Clients,
    pusher: SandboxUser,
    reader: SandboxUser,
    small_image: tuple[str, OciImage],
    cosign_keys: tuple[Path, str],
) -> None:
    repository, image = small_image
    key, public_pem = cosign_keys
    assert (
        cosign_sign(clients, key, f"{edge_host(sandbox)}/{repository}@{image.manifest_digest}", pusher).returncode == 0
    )
    push, pull = Credentials(pusher.name, pusher.password), Credentials(reader.name, reader.password)

    def signature_check(reference: str, pem: str) -> tuple[bool, str]:
        results = run_checks(sandbox.url, push, ca_file=sandbox.ca_file, pull=pull, signed=(reference, pem))
        [check] = [r for r in results if r.name == "signature"]
        return check.ok, check.detail

    assert signature_check(f"{repository}:v1", public_pem)[0]
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    other_pem = other.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    ok, detail = signature_check(f"{repository}:v1", other_pem)
    assert not ok and "verifies with the key" in detail
    unsigned = _pushed_image(sandbox, "clients/unsigned")
    ok, detail = signature_check(f"clients/unsigned@{unsigned.manifest_digest}", public_pem)
    assert not ok and "has no cosign signature" in detail


# ---------------------------------------------------------------- notation


def test_notation_signs_with_a_test_ca_and_verifies_through_the_referrers_tag_fallback(
    sandbox: Sandbox, clients: Clients, pusher: SandboxUser, reader: SandboxUser
) -> None:
    image = _pushed_image(sandbox, "clients/notation")
    host = edge_host(sandbox)
    reference = f"{host}/clients/notation@{image.manifest_digest}"
    clients.run("notation", "cert", "generate-test", "--default", "registry-test")
    policy = clients.home / "trustpolicy.json"
    policy.write_text(
        json.dumps(
            {
                "version": "1.0",
                "trustPolicies": [
                    {
                        "name": "registry-test",
                        "registryScopes": [f"{host}/clients/notation"],
                        "signatureVerification": {"level": "strict"},
                        "trustStores": ["ca:registry-test"],
                        "trustedIdentities": ["*"],
                    }
                ],
            }
        )
    )
    clients.run("notation", "policy", "import", str(policy), "--force")
    refused = clients.run("notation", "sign", "-u", reader.name, "-p", reader.password, reference, check=False)
    assert refused.returncode != 0 and "403" in refused.stderr, refused.stderr  # a pull-only user cannot sign
    signed = clients.run("notation", "sign", "-u", pusher.name, "-p", pusher.password, reference)
    assert f"Successfully signed {reference}" in signed.stdout
    with edge_client(sandbox, reader) as client:
        # no referrers API on 2.8: the signature is listed in an index under the tag sha256-<hex>
        _, index = manifest(client, "clients/notation", image.manifest_digest.replace(":", "-"))
        [entry] = index["manifests"]
        assert entry["artifactType"] == NOTARY_SIGNATURE
        digest, signature = manifest(client, "clients/notation", entry["digest"])
        assert digest == entry["digest"] and signature["subject"]["digest"] == image.manifest_digest
    verified = clients.run("notation", "verify", "-u", reader.name, "-p", reader.password, reference)
    assert f"Successfully verified signature for {reference}" in verified.stdout


def _pushed_image(sandbox: Sandbox, repository: str) -> OciImage:
    from tools.oci_image import build_image
    from tools.verify import push_image

    image = build_image([64 * 1024])
    with edge_client(sandbox, sandbox.user("push")) as client:
        push_image(client, repository, "v1", image)
    return image
