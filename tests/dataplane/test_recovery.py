"""Backup, restore and point-in-time restore on real sandboxes (distribution on SeaweedFS, behind
the edge): nothing a push acknowledged is lost, a bad copy is refused before anything is
written, and a deleted tag comes back from the bucket's versions."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from components.renderers.distribution import REGISTRY_ENVIRONMENT, readonly_environment
from testbench.sandbox import LOOPBACK, Sandbox, free_port, http_status, local_settings
from tests.dataplane.helpers import edge_client, maintenance
from tools.maintenance.backup import MANIFEST, OBJECTS
from tools.oci_image import INDEX_TYPE, MANIFEST_TYPE, OciImage, build_image, sha256_digest
from tools.verify import CheckFailed, pull_image, push_image

pytestmark = pytest.mark.dataplane

SECOND = 1.1  # LastModified has whole seconds: an instant strictly between two writes


@pytest.fixture(scope="module")
def source(registry_version: str) -> Iterator[Sandbox]:
    with Sandbox(local_settings(replicas=2, version=registry_version)) as running:
        yield running


def fresh(registry_version: str) -> Sandbox:
    return Sandbox(local_settings(replicas=1, version=registry_version))


def line_of(box: Sandbox, tmp_path: Path, name: str = "sandbox.json") -> str:
    line = tmp_path / name
    line.write_text(json.dumps(box.summary()))
    return str(line)


def push_index(client: httpx.Client, repository: str, tag: str, children: list[OciImage]) -> str:
    """A two-platform index over images already pushed by digest."""
    for child in children:
        push_image(client, repository, child.manifest_digest, child)
    platforms = [{"architecture": "amd64", "os": "linux"}, {"architecture": "arm64", "os": "linux"}]
    document = {
        "schemaVersion": 2,
        "mediaType": INDEX_TYPE,
        "manifests": [
            {"mediaType": MANIFEST_TYPE, "digest": c.manifest_digest, "size": len(c.manifest), "platform": p}
            for c, p in zip(children, platforms, strict=True)
        ],
    }
    body = json.dumps(document).encode()
    response = client.put(f"/v2/{repository}/manifests/{tag}", content=body, headers={"Content-Type": INDEX_TYPE})
    assert response.status_code == 201, response.text
    return sha256_digest(body)


@pytest.fixture(scope="module")
def stored(source: Sandbox) -> dict[tuple[str, str], OciImage]:
    """Several repositories, a tag moved once, and a multi-arch index (checked apart)."""
    images = {
        ("team-a/api", "v1"): build_image([300 * 1024, 2048]),
        ("team-a/api", "v2"): build_image([1024]),
        ("team-b/web", "latest"): build_image([600 * 1024]),
        ("tools/cli", "1.0"): build_image([4096, 4096, 4096]),
    }
    with edge_client(source, source.user("push")) as client:
        push_image(client, "team-a/api", "v2", build_image([512]))  # then moved: the backup has the later one
        for (repository, tag), image in images.items():
            push_image(client, repository, tag, image)
        push_index(client, "multi/arch", "1", [build_image([777]), build_image([888])])
    return images


def pull_all(box: Sandbox, images: dict[tuple[str, str], OciImage]) -> None:
    with edge_client(box, box.user("pull")) as client:
        for (repository, tag), image in images.items():
            pull_image(client, repository, tag, image)


def wipe(box: Sandbox) -> None:
    s3 = box.s3_client()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=box.bucket):
        for entry in page.get("Contents", []):
            s3.delete_object(Bucket=box.bucket, Key=entry["Key"])


def test_backup_wipe_and_restore_into_a_new_sandbox_pulls_everything_back(
    source: Sandbox, stored: dict[tuple[str, str], OciImage], registry_version: str, tmp_path: Path
) -> None:
    backup = tmp_path / "backup"
    done = maintenance("backup", "--sandbox", line_of(source, tmp_path), "--to", str(backup))
    assert done.returncode == 0, done.stderr
    assert "backed up" in done.stdout and "writes were frozen for" in done.stdout
    manifest = json.loads((backup / MANIFEST).read_text())
    keys = {o["key"] for o in manifest["objects"]}
    for image in stored.values():
        for blob in image.blobs:
            hex_digest = blob.digest.removeprefix("sha256:")
            assert f"blobs/sha256/{hex_digest[:2]}/{hex_digest}/data" in keys
    assert not any("/_uploads/" in key for key in keys)
    wipe(source)
    with edge_client(source, source.user("pull")) as client:
        assert client.get("/v2/team-a/api/manifests/v1", headers={"Accept": MANIFEST_TYPE}).status_code == 404
    with fresh(registry_version) as target:
        done = maintenance("restore", "--sandbox", line_of(target, tmp_path, "t.json"), "--from", str(backup))
        assert done.returncode == 0, done.stdout + done.stderr
        assert "PASS  5 tags in 4 repositories" in done.stdout, done.stdout  # the index's children too
        assert "flushed the blob-descriptor cache" in done.stdout
        pull_all(target, stored)
        with edge_client(target, target.user("pull")) as client:
            index = client.get("/v2/multi/arch/manifests/1", headers={"Accept": INDEX_TYPE})
            assert index.status_code == 200
            for child in index.json()["manifests"]:
                child_manifest = f"/v2/multi/arch/manifests/{child['digest']}"
                assert client.get(child_manifest, headers={"Accept": MANIFEST_TYPE}).status_code == 200
    # and back into the wiped source, over its own empty bucket
    done = maintenance("restore", "--sandbox", line_of(source, tmp_path), "--from", str(backup))
    assert done.returncode == 0, done.stdout + done.stderr
    pull_all(source, stored)


def test_a_backup_to_an_s3_prefix_restores_too(
    source: Sandbox, stored: dict[tuple[str, str], OciImage], registry_version: str, tmp_path: Path
) -> None:
    """s3://bucket/prefix with the caller's own credentials (here the sandbox's SeaweedFS)."""
    source.s3_client().create_bucket(Bucket="backups")
    environment = {**os.environ, **source.s3_environment()}
    line = line_of(source, tmp_path)
    done = maintenance("backup", "--sandbox", line, "--to", "s3://backups/nightly/1", env=environment)
    assert done.returncode == 0, done.stderr
    assert "to s3://backups/nightly/1/" in done.stdout
    listed = source.s3_client().list_objects_v2(Bucket="backups", Prefix=f"nightly/1/{MANIFEST}")
    assert listed.get("KeyCount") == 1
    with fresh(registry_version) as target:
        restored = maintenance(
            "restore",
            "--sandbox",
            line_of(target, tmp_path, "t.json"),
            "--from",
            "s3://backups/nightly/1",
            env=environment,
        )
        assert restored.returncode == 0, restored.stdout + restored.stderr
        pull_all(target, stored)


def test_a_bad_backup_is_refused_naming_the_first_bad_object_and_nothing_is_written(
    source: Sandbox, stored: dict[tuple[str, str], OciImage], registry_version: str, tmp_path: Path
) -> None:
    good = tmp_path / "good"
    assert maintenance("backup", "--sandbox", line_of(source, tmp_path), "--to", str(good)).returncode == 0
    entries = json.loads((good / MANIFEST).read_text())["objects"]
    blob = next(e["key"] for e in entries if e["key"].startswith("blobs/") and e["size"] > 1000)
    corrupt, partial, unfinished = (tmp_path / n for n in ("corrupt", "partial", "unfinished"))
    for copy in (corrupt, partial, unfinished):
        shutil.copytree(good, copy)
    data = bytearray((corrupt / OBJECTS / blob).read_bytes())
    data[100] ^= 0xFF
    (corrupt / OBJECTS / blob).write_bytes(bytes(data))
    (partial / OBJECTS / blob).unlink()
    (unfinished / MANIFEST).unlink()
    with fresh(registry_version) as target:
        line = line_of(target, tmp_path, "t.json")
        expected = {
            corrupt: f"object {blob} has sha256",
            partial: f"object {blob} is missing from the backup",
            unfinished: f"has no {MANIFEST}",
        }
        for copy, message in expected.items():
            done = maintenance("restore", "--sandbox", line, "--from", str(copy))
            assert done.returncode == 1 and message in done.stderr, done.stderr
        assert target.s3_client().list_objects_v2(Bucket=target.bucket).get("KeyCount") == 0
        # a store that holds images is refused too, unless told
        assert maintenance("restore", "--sandbox", line, "--from", str(good)).returncode == 0
        again = maintenance("restore", "--sandbox", line, "--from", str(good))
        assert again.returncode == 1 and "--overwrite" in again.stderr
        assert maintenance("restore", "--sandbox", line, "--from", str(good), "--overwrite").returncode == 0
        pull_all(target, stored)


def test_the_destination_must_be_empty(source: Sandbox, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "something").write_text("x")
    done = maintenance("backup", "--sandbox", line_of(source, tmp_path), "--to", str(tmp_path / "taken"))
    assert done.returncode == 1 and "is not empty" in done.stderr


def test_pushes_during_a_backup_pause_only_for_the_listing_and_the_copy_is_consistent(
    source: Sandbox, registry_version: str, tmp_path: Path
) -> None:
    """A client that retries a 503 (as docker and containerd do) keeps pushing through a backup;
    every push acknowledged before the listing is in the copy, which restores with nothing missing."""
    pushed: list[tuple[str, OciImage, float]] = []  # tag, image, when the push was acknowledged
    paused: list[float] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def keep_pushing() -> None:
        with edge_client(source, source.user("push")) as client:
            while not stop.is_set():
                image, tag, began = build_image([64 * 1024]), f"t{len(pushed)}", time.monotonic()
                try:
                    push_image(client, "busy/repo", tag, image)
                except CheckFailed as err:
                    if "answered 503" not in str(err):
                        errors.append(err)
                        return
                    time.sleep(0.2)  # a client backs off; the edge says Retry-After
                    paused.append(time.monotonic() - began)
                    continue
                pushed.append((tag, image, time.monotonic()))

    worker = threading.Thread(target=keep_pushing)
    worker.start()
    try:
        time.sleep(0.5)
        started = time.monotonic()
        done = maintenance("backup", "--sandbox", line_of(source, tmp_path), "--to", str(tmp_path / "b"))
    finally:
        stop.set()
        worker.join(timeout=120)
    assert not errors, errors
    assert done.returncode == 0, done.stderr
    assert len([p for p in pushed if p[2] > started]) >= 1, "no push was acknowledged while the backup ran"
    keys = {o["key"] for o in json.loads((tmp_path / "b" / MANIFEST).read_text())["objects"]}
    before = [tag for tag, _, at in pushed if at < started]
    assert before and all(f"repositories/busy/repo/_manifests/tags/{t}/current/link" in keys for t in before)
    with fresh(registry_version) as target:
        restored = maintenance(
            "restore", "--sandbox", line_of(target, tmp_path, "t.json"), "--from", str(tmp_path / "b")
        )
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert "FAIL" not in restored.stdout and "PASS" in restored.stdout


def test_point_in_time_brings_a_deleted_tag_back_and_can_be_undone(registry_version: str, tmp_path: Path) -> None:
    with fresh(registry_version) as box:
        line = line_of(box, tmp_path)
        kept, lost, later = build_image([2048]), build_image([4096]), build_image([1024])
        with edge_client(box, box.user("admin")) as client:
            push_image(client, "app/api", "stable", kept)
            push_image(client, "app/api", "v1", lost)
            time.sleep(SECOND)
            instant = datetime.datetime.now(datetime.UTC)
            time.sleep(SECOND)
            assert client.delete(f"/v2/app/api/manifests/{lost.manifest_digest}").status_code == 202
            push_image(client, "app/api", "v2", later)
        at = instant.isoformat().replace("+00:00", "Z")
        plan = maintenance("restore", "--sandbox", line, "--at", at, "--dry-run")
        assert plan.returncode == 0, plan.stderr
        assert f"app/api:v1 comes back at {lost.manifest_digest}" in plan.stdout
        assert f"app/api:v2 goes (pushed after the instant; now {later.manifest_digest})" in plan.stdout
        assert "dry run: nothing changed" in plan.stdout
        with edge_client(box, box.user("pull")) as client:
            assert client.get("/v2/app/api/manifests/v1", headers={"Accept": MANIFEST_TYPE}).status_code == 404
        keep = maintenance("restore", "--sandbox", line, "--at", at, "--keep-newer")
        assert keep.returncode == 0, keep.stdout + keep.stderr
        assert "PASS  3 tags in 1 repositories" in keep.stdout, keep.stdout
        pull_all(box, {("app/api", "stable"): kept, ("app/api", "v1"): lost, ("app/api", "v2"): later})
        time.sleep(SECOND)
        exact = maintenance("restore", "--sandbox", line, "--at", at)
        assert exact.returncode == 0, exact.stdout + exact.stderr
        undo = exact.stdout.split("to undo: restore --at ")[1].split()[0]
        with edge_client(box, box.user("pull")) as client:
            assert client.get("/v2/app/api/manifests/v2", headers={"Accept": MANIFEST_TYPE}).status_code == 404
            # the cache was flushed: it no longer answers for the blobs that went (a re-push would skip them)
            assert client.head(f"/v2/app/api/blobs/{later.layers[0].digest}").status_code == 404
        pull_all(box, {("app/api", "stable"): kept, ("app/api", "v1"): lost})
        time.sleep(SECOND)
        back = maintenance("restore", "--sandbox", line, "--at", undo)
        assert back.returncode == 0, back.stdout + back.stderr
        pull_all(box, {("app/api", "stable"): kept, ("app/api", "v1"): lost, ("app/api", "v2"): later})


def test_point_in_time_refuses_an_instant_outside_the_versioning_window(
    source: Sandbox, stored: dict[tuple[str, str], OciImage], tmp_path: Path
) -> None:
    line = line_of(source, tmp_path)
    days = local_settings().storage.noncurrent_version_days
    old = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=days + 1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    done = maintenance("restore", "--sandbox", line, "--at", old, "--dry-run")
    assert done.returncode == 1
    assert f"outside the versioning window: noncurrent versions expire after {days} days" in done.stderr
    naive = maintenance("restore", "--sandbox", line, "--at", "2026-12-04T12:00:00", "--dry-run")
    assert naive.returncode == 1 and "has no time zone" in naive.stderr


@pytest.mark.parametrize(("in_file", "in_environment", "writable"), [(False, True, False), (True, False, True)])
def test_the_read_only_switch_of_a_secondary_is_its_environment(
    source: Sandbox, in_file: bool, in_environment: bool, writable: bool
) -> None:
    """What a secondary region runs (and promote flips): the environment wins over config.yml."""
    config = yaml.safe_load((source.dir / "registry-0.yml").read_text())
    port = free_port()
    config["http"]["addr"] = f"{LOOPBACK}:{port}"
    config["http"].pop("debug")  # registry-0's metrics listener is taken
    config["storage"]["maintenance"]["readonly"] = {"enabled": in_file}
    path = source.dir / f"registry-readonly-{port}.yml"
    path.write_text(yaml.safe_dump(config))
    url = f"http://{LOOPBACK}:{port}"
    source.spawn(
        f"readonly-{port}",
        [source.registry_binary, "serve", str(path)],
        {**REGISTRY_ENVIRONMENT, **readonly_environment(in_environment)},
        ready=lambda: http_status(f"{url}/v2/") == 200,
    )
    with httpx.Client(base_url=url, timeout=30) as client:
        started = client.post("/v2/switch/test/blobs/uploads/")
        assert started.status_code == (202 if writable else 405), started.text
        assert client.get("/v2/").status_code == 200
