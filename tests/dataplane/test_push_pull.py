"""Images go in through the edge and come out of any instance: shared S3, Redis and http.secret."""

from __future__ import annotations

import hashlib
import json
import ssl
from pathlib import Path

import httpx
import pytest

from components.storage import lifecycle_rules
from testbench.sandbox import Sandbox, SandboxUser
from tests.dataplane.helpers import both_versions, edge_host, registry_client, registry_host
from tools.oci_image import OciImage, build_image, sha256_digest, write_oci_layout
from tools.redis_client import redis_command
from tools.skopeo import Skopeo
from tools.verify import start_upload, with_digest

pytestmark = [pytest.mark.dataplane, both_versions]
MIB = 1024 * 1024


def pulled_blob_digests(layout: Path) -> set[str]:
    """Digests of every blob in an OCI layout, computed from the bytes (not the file names)."""
    return {sha256_digest(path.read_bytes()) for path in (layout / "blobs" / "sha256").iterdir()}


def test_push_through_edge_pull_directly_from_another_instance(
    sandbox: Sandbox, skopeo: Skopeo, pusher: SandboxUser, tmp_path: Path
) -> None:
    image = build_image([1 * MIB, 64 * 1024])
    source = write_oci_layout(image, tmp_path / "image", "v1")
    skopeo.copy(source, f"docker://{edge_host(sandbox)}/app/web:v1", skopeo.tls_flags("dest", *_creds(pusher)))

    for index in (1, 2):
        pulled = tmp_path / f"pulled-{index}"
        skopeo.copy(
            f"docker://{registry_host(sandbox, index)}/app/web:v1", f"oci:{pulled}:v1", skopeo.plain_http_flags("src")
        )
        index_json = json.loads((pulled / "index.json").read_text())
        assert index_json["manifests"][0]["digest"] == image.manifest_digest
        assert pulled_blob_digests(pulled) == {b.digest for b in image.blobs} | {image.manifest_digest}


def test_pull_only_user_pulls_through_edge(
    sandbox: Sandbox, skopeo: Skopeo, reader: SandboxUser, small_image: tuple[str, OciImage], tmp_path: Path
) -> None:
    repository, image = small_image
    pulled = tmp_path / "pulled"
    skopeo.copy(
        f"docker://{edge_host(sandbox)}/{repository}:v1", f"oci:{pulled}:v1", skopeo.tls_flags("src", *_creds(reader))
    )
    assert pulled_blob_digests(pulled) == {b.digest for b in image.blobs} | {image.manifest_digest}


def test_one_upload_spread_across_three_instances(sandbox: Sandbox) -> None:
    """POST on registry 0, PATCH on 1, PUT on 2: works only with one http.secret and one bucket."""
    blob = build_image([300 * 1024]).layers[0]
    with (
        registry_client(sandbox, 0) as first,
        registry_client(sandbox, 1) as second,
        registry_client(sandbox, 2) as third,
    ):
        location = start_upload(first, "spread/blob")
        patched = second.patch(
            _path_and_query(location),
            content=blob.data,
            headers={"Content-Type": "application/octet-stream", "Content-Range": f"0-{blob.size - 1}"},
        )
        assert patched.status_code == 202, patched.text
        done = third.put(_path_and_query(str(with_digest(patched.headers["Location"], blob.digest))))
        assert done.status_code == 201, done.text
        for client in (first, second, third):
            head = client.head(f"/v2/spread/blob/blobs/{blob.digest}")
            assert head.status_code == 200
            assert head.headers["Docker-Content-Digest"] == blob.digest
        assert hashlib.sha256(first.get(f"/v2/spread/blob/blobs/{blob.digest}").content).hexdigest() == blob.digest[7:]


def test_registries_share_the_redis_cache(sandbox: Sandbox, small_image: tuple[str, OciImage]) -> None:
    repository, image = small_image
    with registry_client(sandbox, 2) as client:
        assert client.head(f"/v2/{repository}/blobs/{image.layers[0].digest}").status_code == 200
    assert (
        redis_command(sandbox.redis_address, sandbox.redis_password, "EXISTS", f"blobs::{image.layers[0].digest}")
        == "1"
    )


def test_200_mib_layer_through_the_edge(sandbox: Sandbox, skopeo: Skopeo, pusher: SandboxUser, tmp_path: Path) -> None:
    image = build_image([200 * MIB])
    source = write_oci_layout(image, tmp_path / "image", "v1")
    flags = skopeo.tls_flags("dest", *_creds(pusher))
    skopeo.copy(source, f"docker://{edge_host(sandbox)}/big/layer:v1", flags)

    pulled = tmp_path / "pulled"
    skopeo.copy(
        f"docker://{edge_host(sandbox)}/big/layer:v1", f"oci:{pulled}:v1", skopeo.tls_flags("src", *_creds(pusher))
    )
    layer = image.layers[0]
    pulled_layer = pulled / "blobs" / "sha256" / layer.digest[7:]
    assert pulled_layer.stat().st_size == layer.size > 200 * MIB
    assert sha256_digest(pulled_layer.read_bytes()) == layer.digest


def test_bucket_has_the_storage_components_versioning_and_lifecycle(sandbox: Sandbox) -> None:
    s3 = sandbox.s3_client()
    assert s3.get_bucket_versioning(Bucket=sandbox.bucket)["Status"] == "Enabled"
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=sandbox.bucket)["Rules"]}
    storage = sandbox.settings.storage
    assert set(rules) == {str(rule["id"]) for rule in lifecycle_rules(storage)}
    assert rules["abort-incomplete-multipart-uploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": storage.abort_incomplete_upload_days
    }
    assert rules["expire-noncurrent-versions"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == (
        storage.noncurrent_version_days
    )
    assert rules["remove-expired-delete-markers"]["Expiration"] == {"ExpiredObjectDeleteMarker": True}
    assert all(rule["Status"] == "Enabled" for rule in rules.values())


def _creds(user: SandboxUser) -> tuple[str, str]:
    return user.name, user.password


def _path_and_query(location: str) -> str:
    """The registry's absolute Location minus scheme and host, to send it to another instance."""
    return httpx.URL(location).raw_path.decode()


def test_tls_registry_baseline_serves_the_same_storage(sandbox: Sandbox, small_image: tuple[str, OciImage]) -> None:
    """The benchmark's like-for-like baseline: a bare registry terminating TLS on the same bucket."""
    repository, image = small_image
    url = sandbox.start_tls_registry()
    with httpx.Client(base_url=url, verify=ssl.create_default_context(cafile=str(sandbox.ca_file))) as client:
        assert client.get("/v2/").status_code == 200  # no auth of its own: never exposed but in benchmarks
        manifest = client.get(
            f"/v2/{repository}/manifests/v1", headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}
        )
        assert manifest.status_code == 200
        assert sha256_digest(manifest.content) == image.manifest_digest
    plain = httpx.get(f"{url.replace('https://', 'http://')}/v2/", timeout=5)
    assert plain.status_code == 400 and "HTTPS server" in plain.text  # TLS only
