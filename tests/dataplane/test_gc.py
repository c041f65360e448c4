"""`tools.maintenance gc` on a real sandbox: garbage goes, nothing a push was told it stored does.

The races it must survive are distribution's own: GC during a push deletes the new layers
(distribution#3045); after GC the blob-descriptor cache still answers for deleted blobs, so a
re-push skips them and the next pull fails (#2945, #4269).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbench.sandbox import Sandbox, local_settings
from tests.conftest import ROOT
from tests.dataplane.helpers import both_versions, edge_client, edge_host, maintenance, maintenance_command
from tools.maintenance.freeze import WriteFreeze
from tools.maintenance.site import edge_site, site_of
from tools.maintenance.storage import RegistryStore
from tools.oci_image import OciImage, build_image, sha256_digest, write_oci_layout
from tools.skopeo import Skopeo
from tools.verify import CheckFailed, pull_image, push_image

pytestmark = [pytest.mark.dataplane, both_versions]

PUSH_INTERVAL_SECONDS = 0.2


@pytest.fixture(scope="module")
def box(registry_version: str) -> Iterator[Sandbox]:
    """A sandbox of its own: this module deletes blobs."""
    with Sandbox(local_settings(replicas=2, version=registry_version)) as running:
        yield running


@pytest.fixture
def line(box: Sandbox, tmp_path: Path) -> Path:
    path = tmp_path / "sandbox.json"
    path.write_text(json.dumps(box.summary()))
    return path


def gc_command(line: Path, *extra: str) -> list[str]:
    return maintenance_command("gc", "--sandbox", str(line), *extra)


def gc(line: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return maintenance("gc", "--sandbox", str(line), *extra)


def make_garbage(box: Sandbox, repository: str, count: int) -> set[str]:
    """Push `count` images and delete their manifests (as an admin): their blobs are what GC must free."""
    images = [build_image([64 * 1024, 2048]) for _ in range(count)]
    with edge_client(box, box.user("admin")) as client:
        for index, image in enumerate(images):
            push_image(client, repository, f"gone-{index}", image)
            response = client.delete(f"/v2/{repository}/manifests/{image.manifest_digest}")
            assert response.status_code == 202, response.text
    return {blob.digest for image in images for blob in image.blobs}


class Pusher(threading.Thread):
    """Pushes a new image every PUSH_INTERVAL_SECONDS; retries each refused push until it is stored."""

    def __init__(self, box: Sandbox, repository: str):
        super().__init__(daemon=True)
        self.box, self.repository = box, repository
        self.acknowledged: list[tuple[str, OciImage]] = []
        self.refused = 0
        self.errors: list[str] = []
        self.done = threading.Event()

    def run(self) -> None:
        with edge_client(self.box, self.box.user("push")) as client:
            while not self.done.is_set():
                tag, image = f"t{len(self.acknowledged)}", build_image([32 * 1024, 1024])
                while True:
                    try:
                        push_image(client, self.repository, tag, image)
                        break
                    except CheckFailed as failed:
                        if "answered 503" not in str(failed):
                            self.errors.append(str(failed))
                            return
                        self.refused += 1
                        time.sleep(PUSH_INTERVAL_SECONDS)
                self.acknowledged.append((tag, image))
                time.sleep(PUSH_INTERVAL_SECONDS)


def test_gc_while_pushing_frees_the_garbage_and_loses_no_acknowledged_image(box: Sandbox, line: Path) -> None:
    garbage = make_garbage(box, "gc/garbage", 5)
    store = RegistryStore(site_of(box.maintenance()).storage())
    assert garbage <= store.blob_sizes().keys()
    pusher = Pusher(box, "gc/busy")
    pusher.start()
    time.sleep(1.0)
    done = gc(line)
    time.sleep(1.0)
    pusher.done.set()
    pusher.join(timeout=120)
    assert done.returncode == 0, done.stderr
    assert pusher.errors == []
    assert len(pusher.acknowledged) >= 5
    with edge_client(box, box.user("pull")) as client:
        for tag, image in pusher.acknowledged:
            pull_image(client, "gc/busy", tag, image)  # raises unless every digest matches
    assert not garbage & store.blob_sizes().keys()
    report = done.stdout
    freed = int(report.split("freed ", 1)[1].split(" ", 1)[0])
    assert freed >= len(garbage)
    assert "writes were frozen for " in report and "flushed the blob-descriptor cache" in report
    assert not box.freeze_flag.exists()


def test_during_a_freeze_writes_get_503_with_retry_after_and_reads_go_on(
    box: Sandbox, small_image_in_box: tuple[str, OciImage]
) -> None:
    repository, image = small_image_in_box
    target = box.maintenance()
    with WriteFreeze(edge_site(target), target) as freeze:
        assert freeze.drain_seconds >= 0
        with edge_client(box, box.user("push")) as client:
            refused = client.post(f"/v2/{repository}/blobs/uploads/")
            pull_image(client, repository, "v1", image)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "30"
        assert refused.json()["errors"][0]["code"] == "UNAVAILABLE"
    with edge_client(box, box.user("push")) as client:
        assert client.post(f"/v2/{repository}/blobs/uploads/").status_code == 202


def test_the_freeze_waits_for_a_write_that_was_already_under_way(box: Sandbox) -> None:
    """An upload streaming when the freeze starts finishes (and is accepted) before gc may mark."""
    finished: dict[str, float] = {}
    statuses: list[int] = []

    def slow_body() -> Iterator[bytes]:
        for _ in range(6):
            yield os.urandom(1024)
            time.sleep(0.25)

    def upload() -> None:
        with edge_client(box, box.user("push")) as client:
            location = client.post("/v2/gc/slow/blobs/uploads/").headers["Location"]
            statuses.append(client.patch(location, content=slow_body()).status_code)
            finished["at"] = time.monotonic()

    writer = threading.Thread(target=upload)
    writer.start()
    time.sleep(0.5)  # the PATCH is streaming now
    target = box.maintenance()
    with WriteFreeze(edge_site(target), target):
        entered = time.monotonic()
    writer.join(timeout=30)
    assert statuses == [202]
    assert finished["at"] <= entered


def test_a_re_push_after_gc_stores_the_collected_blobs_again(box: Sandbox, line: Path, tmp_path: Path) -> None:
    """skopeo HEADs each blob first and skips what the registry says it has: with a stale cache
    it would skip the collected blobs and the pull would fail."""
    skopeo = Skopeo(tmp_path / "certs", box.ca_file)
    pusher = box.user("admin")  # pushes, and deletes what gc must then free
    push, pull = (
        skopeo.tls_flags("dest", pusher.name, pusher.password),
        skopeo.tls_flags("src", pusher.name, pusher.password),
    )
    image = build_image([48 * 1024, 512])
    source, target = write_oci_layout(image, tmp_path / "image", "v1"), f"docker://{edge_host(box)}/gc/again:v1"
    skopeo.copy(source, target, push)
    with edge_client(box, pusher) as client:
        assert client.head(f"/v2/gc/again/blobs/{image.layers[0].digest}").status_code == 200
        assert client.delete(f"/v2/gc/again/manifests/{image.manifest_digest}").status_code == 202
    done = gc(line)
    assert done.returncode == 0, done.stderr
    store = RegistryStore(site_of(box.maintenance()).storage())
    assert not {b.digest for b in image.blobs} & store.blob_sizes().keys()
    with edge_client(box, pusher) as client:
        assert client.head(f"/v2/gc/again/blobs/{image.layers[0].digest}").status_code == 404  # no stale cache
    skopeo.copy(source, target, push)
    skopeo.copy(target, f"oci:{tmp_path / 'pulled'}:v1", pull)
    pulled = {sha256_digest(p.read_bytes()) for p in (tmp_path / "pulled" / "blobs" / "sha256").iterdir()}
    assert {b.digest for b in image.blobs} <= pulled
    assert {b.digest for b in image.blobs} <= store.blob_sizes().keys()


def test_the_dry_run_deletes_nothing_and_names_what_the_real_run_frees(box: Sandbox, line: Path) -> None:
    garbage = make_garbage(box, "gc/dry", 2)
    store = RegistryStore(site_of(box.maintenance()).storage())
    dry = gc(line, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert garbage <= store.blob_sizes().keys()
    would = int(dry.stdout.split("dry run: ", 1)[1].split(" ", 1)[0])
    real = gc(line)
    assert real.returncode == 0, real.stderr
    assert int(real.stdout.split("freed ", 1)[1].split(" ", 1)[0]) == would >= len(garbage)


def test_a_killed_gc_does_not_leave_writes_frozen(box: Sandbox, line: Path) -> None:
    """SIGKILL mid-freeze: the watchdog lifts the freeze; writes work again within seconds."""
    gc = subprocess.Popen(gc_command(line), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not box.freeze_flag.exists() and time.monotonic() < deadline and gc.poll() is None:
        time.sleep(0.005)
    assert box.freeze_flag.exists(), "gc finished before it could be killed mid-freeze"
    os.kill(gc.pid, signal.SIGKILL)
    gc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while box.freeze_flag.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not box.freeze_flag.exists()
    with edge_client(box, box.user("push")) as client:
        assert client.post("/v2/gc/after-kill/blobs/uploads/").status_code == 202


def test_the_next_gc_lifts_a_freeze_whose_owner_is_gone(box: Sandbox, line: Path) -> None:
    """No watchdog either (a rebooted host): the next run says so and opens writes again."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    box.freeze_flag.write_text(dead.stdout)
    with edge_client(box, box.user("push")) as client:
        assert client.post("/v2/gc/stale/blobs/uploads/").status_code == 503
    done = gc(line)
    assert done.returncode == 0, done.stderr
    assert "lifted a freeze left by a run that died" in done.stdout
    assert not box.freeze_flag.exists()


@pytest.fixture(scope="module")
def small_image_in_box(box: Sandbox) -> tuple[str, OciImage]:
    image = build_image([16 * 1024])
    with edge_client(box, box.user("push")) as client:
        push_image(client, "gc/kept", "v1", image)
    return "gc/kept", image
