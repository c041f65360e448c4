"""Objects lost behind the registry's back: the stale cache, and `tools.maintenance flush-cache`.

What a wiped or restored object store does (FIELD-NOTES): Redis still answers HEAD for blobs that
are gone, so a re-push "succeeds" by skipping them and the next pull fails. After flush-cache the
re-push stores them again and the image pulls.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.renderers.redis import render_redis_config
from testbench.sandbox import LOOPBACK, Sandbox, find_binary, free_port, generate_password, local_settings
from tests.dataplane.helpers import edge_client, edge_host, maintenance
from tools.oci_image import build_image, sha256_digest, write_oci_layout
from tools.redis_client import redis_command
from tools.skopeo import Skopeo, SkopeoFailed

pytestmark = pytest.mark.dataplane


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    """A sandbox of its own: this module wipes its bucket."""
    with Sandbox(local_settings(replicas=2)) as running:
        yield running


def wipe_object_store(box: Sandbox) -> int:
    """Every version of every object gone, as after a lost volume or a restore of an empty store."""
    s3 = box.s3_client()
    removed = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=box.bucket):
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=box.bucket, Key=entry["Key"], VersionId=entry["VersionId"])
            removed += 1
    return removed


def pulled_digests(layout: Path) -> set[str]:
    return {sha256_digest(p.read_bytes()) for p in (layout / "blobs" / "sha256").iterdir()}


def test_flush_cache_makes_a_re_push_store_the_lost_blobs_again(box: Sandbox, tmp_path: Path) -> None:
    skopeo = Skopeo(tmp_path / "certs", box.ca_file)
    pusher = box.user("push")
    creds = skopeo.tls_flags("dest", pusher.name, pusher.password)
    pull = skopeo.tls_flags("src", pusher.name, pusher.password)
    image = build_image([512 * 1024, 8192])
    source = write_oci_layout(image, tmp_path / "image", "v1")
    target = f"docker://{edge_host(box)}/lost/app:v1"
    skopeo.copy(source, target, creds)
    layer = image.layers[0].digest

    assert wipe_object_store(box) > 0
    with edge_client(box, pusher) as client:
        assert client.head(f"/v2/lost/app/blobs/{layer}").status_code == 200, "the cache answers for a lost blob"
    skopeo.copy(source, target, creds)  # "succeeds": every blob is skipped
    with pytest.raises(SkopeoFailed):
        skopeo.copy(target, f"oci:{tmp_path / 'broken'}:v1", pull)

    line = tmp_path / "sandbox.json"
    line.write_text(json.dumps(box.summary()))
    done = maintenance("flush-cache", "--sandbox", str(line), timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("flushed the blob-descriptor cache at 127.0.0.1:")

    with edge_client(box, pusher) as client:
        assert client.head(f"/v2/lost/app/blobs/{layer}").status_code == 404
    skopeo.copy(source, target, creds)
    skopeo.copy(target, f"oci:{tmp_path / 'pulled'}:v1", pull)
    assert {b.digest for b in image.blobs} <= pulled_digests(tmp_path / "pulled")


def test_local_flush_script_flushes_a_real_redis_with_the_password_from_its_config(tmp_path: Path) -> None:
    """The command `flush-cache --stack` runs in the local cache container, here against a real
    redis-server: `docker` and the container's `redis-cli` are shims that only add the port."""
    redis_server = find_binary("redis-server")
    redis_cli = find_binary("redis-cli")
    assert redis_server and redis_cli, "install redis-server (make system-deps)"
    password, port = generate_password(48), free_port()
    config = tmp_path / "redis.conf"
    config.write_text(render_redis_config(password=password, port=port, bind=LOOPBACK))
    server = subprocess.Popen([redis_server, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        shims = tmp_path / "bin"
        shims.mkdir()
        for name, body in (
            ("docker", '[ "$1" = exec ] && shift 2 && exec "$@"'),  # docker exec CONTAINER cmd...
            ("redis-cli", f'exec {redis_cli} -p {port} "$@"'),
        ):
            shim = shims / name
            shim.write_text(f"#!/bin/sh\n{body}\n")
            shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
        address = f"{LOOPBACK}:{port}"
        for _ in range(100):
            if redis_command(address, password, "SET", "blob::sha256:abc", "x") == "OK":
                break
        outputs = tmp_path / "outputs.json"
        target = {"target": "local", "cacheContainer": "registry-redis", "cacheConfig": str(config)}
        outputs.write_text(json.dumps({"maintenance": target}))
        done = maintenance(
            "flush-cache",
            "--outputs",
            str(outputs),
            env={**os.environ, "PATH": f"{shims}:{os.environ['PATH']}"},
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert redis_command(address, password, "DBSIZE") == "0"
    finally:
        server.terminate()
        server.wait(timeout=10)
