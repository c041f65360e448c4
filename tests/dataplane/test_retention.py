"""`tools.maintenance retention` on a real sandbox: it deletes exactly its plan, and what a kept
image needs (protected tags, signatures, children of a multi-arch index) survives."""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from components.config import Retention
from testbench.sandbox import Sandbox, local_settings
from tests.dataplane.helpers import both_versions, maintenance
from tools.maintenance.retention import RegistryApi, apply_retention
from tools.maintenance.site import site_of
from tools.maintenance.storage import RegistryStore
from tools.oci_image import INDEX_TYPE, MANIFEST_TYPE, MANIFEST_TYPES, build_image, sha256_digest
from tools.verify import push_image

pytestmark = [pytest.mark.dataplane, both_versions]

REPO = "ret/app"
RETENTION = Retention(keep_tagged=2, untagged_days=1, protected_tags=["v*"])
PUSH_TIME_RESOLUTION_SECONDS = 1.05
LATER = datetime.timedelta(days=2)  # the manifests below are "old" for untaggedDays 1


@pytest.fixture(scope="module")
def box(registry_version: str) -> Iterator[Sandbox]:
    """A sandbox of its own, with the retention under test in its settings."""
    settings = local_settings(replicas=2, version=registry_version).model_copy(update={"retention": RETENTION})
    with Sandbox(settings) as running:
        yield running


def push(client: httpx.Client, tag: str | None, repository: str = REPO) -> str:
    """A new small image, under `tag` or (None) by its digest only, untagged. A push time is an
    S3 LastModified, to the second: each push gets a second of its own so their order is known."""
    image = build_image([1024])
    push_image(client, repository, tag or image.manifest_digest, image)
    time.sleep(PUSH_TIME_RESOLUTION_SECONDS)
    return image.manifest_digest


def push_index(client: httpx.Client, tag: str, children: list[str]) -> str:
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": INDEX_TYPE,
            "manifests": [
                {"mediaType": MANIFEST_TYPE, "digest": d, "size": len(_get(client, d)), "platform": p}
                for d, p in zip(
                    children,
                    [{"architecture": "amd64", "os": "linux"}, {"architecture": "arm64", "os": "linux"}],
                    strict=True,
                )
            ],
        }
    ).encode()
    response = client.put(f"/v2/{REPO}/manifests/{tag}", content=index, headers={"Content-Type": INDEX_TYPE})
    assert response.status_code == 201, response.text
    return sha256_digest(index)


def _get(client: httpx.Client, digest: str, repository: str = REPO) -> bytes:
    return client.get(f"/v2/{repository}/manifests/{digest}", headers={"Accept": MANIFEST_TYPES}).content


def signature_tag(subject: str) -> str:
    return f"sha256-{subject.removeprefix('sha256:')}.sig"


def test_retention_deletes_exactly_its_dry_run_and_keeps_what_kept_images_need(box: Sandbox, tmp_path: Path) -> None:
    with httpx.Client(base_url=box.registry_urls[0], timeout=60) as client:
        released = push(client, "v1.0")  # oldest, protected
        first, second = push(client, "build-1"), push(client, "build-2")
        children = [push(client, None) for _ in range(2)]
        multi = push_index(client, "multi", children)
        newest = push(client, "build-3")
        first_signature, newest_signature = push(client, signature_tag(first)), push(client, signature_tag(newest))
        loose = push(client, None)  # never tagged

    target = box.maintenance()
    store, api = RegistryStore(site_of(target).storage()), RegistryApi(str(target["registryUrl"]))
    now = datetime.datetime.now(datetime.UTC) + LATER
    dry = apply_retention(target, store, api, dry_run=True, now=now)
    real = apply_retention(target, store, api, dry_run=False, now=now)

    planned = [line for line in dry if line.startswith("delete ")]
    assert planned == [line for line in real if line.startswith("delete ")]
    assert {line.split("@", 1)[1].split(" ", 1)[0] for line in planned} == {first, second, first_signature, loose}
    assert real[-1] == "deleted 4 manifests of 10; run `gc` to free their blobs"
    with httpx.Client(base_url=box.registry_urls[0], timeout=60) as client:
        status = {
            d: client.head(f"/v2/{REPO}/manifests/{d}", headers={"Accept": MANIFEST_TYPES}).status_code
            for d in (released, first, second, *children, multi, newest, first_signature, newest_signature, loose)
        }
        tags = set(client.get(f"/v2/{REPO}/tags/list").json()["tags"])
    assert {d for d, code in status.items() if code == 404} == {first, second, first_signature, loose}
    assert {d for d, code in status.items() if code == 200} == {released, *children, multi, newest, newest_signature}
    assert tags == {"v1.0", "multi", "build-3", signature_tag(newest)}


def test_the_command_line_dry_run_prints_the_plan_and_deletes_nothing(box: Sandbox, tmp_path: Path) -> None:
    with httpx.Client(base_url=box.registry_urls[0], timeout=60) as client:
        old = push(client, "cli-1")
        push(client, "cli-2")
        push(client, "cli-3")
        push(client, "cli-4")
    line = tmp_path / "sandbox.json"
    line.write_text(json.dumps(box.summary()))
    done = maintenance("retention", "--dry-run", "--sandbox", str(line), timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"delete {REPO}@{old} (tags cli-1;" in done.stdout
    assert "nothing was" in done.stdout.splitlines()[-1]
    with httpx.Client(base_url=box.registry_urls[0], timeout=60) as client:
        assert client.head(f"/v2/{REPO}/manifests/cli-1", headers={"Accept": MANIFEST_TYPES}).status_code == 200


def push_referrer(client: httpx.Client, repository: str, subject: str) -> str:
    """An SBOM-like artifact pushed the way the referrers API expects: untagged, naming `subject`."""
    image = build_image([256])
    push_image(client, repository, image.manifest_digest, image)  # its blobs (and a plain manifest of them)
    document = json.loads(image.manifest)
    size = len(_get(client, subject, repository))
    document |= {
        "artifactType": "application/spdx+json",
        "subject": {"mediaType": MANIFEST_TYPE, "digest": subject, "size": size},
    }
    body = json.dumps(document).encode()
    digest = sha256_digest(body)
    response = client.put(f"/v2/{repository}/manifests/{digest}", content=body, headers={"Content-Type": MANIFEST_TYPE})
    assert response.status_code == 201, response.text
    return digest


def test_a_young_referrer_is_deleted_with_the_image_it_refers_to(box: Sandbox) -> None:
    """untaggedDays is 1 and the referrer is seconds old: it still goes, because its image goes."""
    repository = "ret/referred"
    with httpx.Client(base_url=box.registry_urls[0], timeout=60) as client:
        oldest = push(client, "build-1", repository)
        kept = [push(client, "build-2", repository), push(client, "build-3", repository)]
        referrer = push_referrer(client, repository, oldest)
        kept_referrer = push_referrer(client, repository, kept[0])
    target = box.maintenance()
    store, api = RegistryStore(site_of(target).storage()), RegistryApi(str(target["registryUrl"]))
    report = apply_retention(target, store, api, dry_run=False, now=datetime.datetime.now(datetime.UTC))
    assert any(
        line.startswith(f"delete {repository}@{referrer}") and f"refers to deleted {oldest}" in line for line in report
    ), report
    with httpx.Client(base_url=box.registry_urls[0], timeout=60) as client:
        status = {
            d: client.head(f"/v2/{repository}/manifests/{d}", headers={"Accept": MANIFEST_TYPES}).status_code
            for d in (oldest, referrer, *kept, kept_referrer)
        }
    assert status == {oldest: 404, referrer: 404, kept[0]: 200, kept[1]: 200, kept_referrer: 200}
