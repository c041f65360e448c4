"""Every walk distribution makes of its storage, checked on a running sandbox.

distribution lists what it stores by walking the S3 bucket: `_catalog` from the repositories root,
`tags/list` over a repository's tags (3.1 walks the folder, 3.0 lists it), garbage collection's
mark and sweep, and the upload purger. Two upstream defects make those walks see less than is
stored: distribution#4932 (the S3 driver's Walk sends `StartAfter=<root>`, which SeaweedFS before
4.48 answers with nothing, seaweedfs#11321) and distribution#4891 (3.1.x drops a tag that is a
lexical prefix of another: registry/storage/driver/s3-aws/s3.go doWalk skips by string prefix).
bench.compatibility runs these checks for every build and store; tests/dataplane/test_storage_walks.py
asserts them on the pair the targets deploy.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from testbench import registry_builds
from testbench.sandbox import Sandbox
from tools.maintenance.storage import V2
from tools.oci_image import OciImage, build_image
from tools.verify import CheckFailed, follow_pages, pull_image, push_image, start_upload

TAGGED = "walks/app"
SECOND = "walks/app2"  # a repository whose name has the first one's as a prefix
ORPHANED = "walks/orphan"
# distribution#4891: tags that are lexical prefixes of others (0.1.2 / 0.1.20, 1 / 10)
TAGS = ("0.1.2", "0.1.20", "0.1.3", "1", "10", "latest")
CHECKS = ("catalog", "tags", "pages", "gc", "purge")


class Broken(Exception):
    """One check failed; the message says what was seen."""


@dataclass(frozen=True)
class Stored:
    """What `fill` pushed: the image under every tag, and the one whose manifest was deleted."""

    tagged: OciImage
    orphan: OciImage


def fill(sandbox: Sandbox) -> Stored:
    """Push the tagged image under every tag and into SECOND, and an orphan whose manifest is deleted again."""
    stored = Stored(build_image([4096, 2048]), build_image([3072, 1024]))
    with httpx.Client(base_url=sandbox.registry_urls[0], timeout=30) as client:
        for tag in TAGS:
            push_image(client, TAGGED, tag, stored.tagged)
        push_image(client, SECOND, "v1", stored.tagged)
        push_image(client, ORPHANED, "gone", stored.orphan)
        client.delete(f"/v2/{ORPHANED}/manifests/{stored.orphan.manifest_digest}").raise_for_status()
    return stored


def check_catalog(sandbox: Sandbox) -> None:
    with httpx.Client(base_url=sandbox.registry_urls[0], timeout=30) as client:
        listed = follow_pages(client, "/v2/_catalog?n=1", "repositories")
    if not {TAGGED, SECOND} <= set(listed):
        raise Broken(f"_catalog lists {listed}")


def check_tags(sandbox: Sandbox) -> None:
    listed = httpx.get(f"{sandbox.registry_urls[0]}/v2/{TAGGED}/tags/list", timeout=30).json().get("tags")
    if sorted(listed or []) != sorted(TAGS):
        raise Broken(f"tags/list: {listed}")


def check_pages(sandbox: Sandbox) -> None:
    with httpx.Client(base_url=sandbox.registry_urls[0], timeout=30) as client:
        listed = follow_pages(client, f"/v2/{TAGGED}/tags/list?n=2", "tags")
    if sorted(listed) != sorted(TAGS):
        raise Broken(f"pages of 2: {listed}")


def check_gc(sandbox: Sandbox, stored: Stored) -> None:
    """Mark and sweep as tools.maintenance runs it: the registry binary with the instance's config."""
    target = sandbox.maintenance()
    done = subprocess.run(
        [target["registryBinary"], "garbage-collect", target["registryConfig"]],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise Broken(f"garbage-collect exited {done.returncode}: {done.stderr.strip()[-200:]}")
    blobs = blob_digests(sandbox)
    if missing := [b for b in stored.tagged.blobs if b.digest not in blobs]:
        raise Broken(f"gc deleted {len(missing)} blobs of a tagged image")
    if kept := [b for b in stored.orphan.blobs if b.digest in blobs]:
        raise Broken(f"gc freed nothing: {len(kept)} of {len(stored.orphan.blobs)} unreferenced blobs kept")
    with httpx.Client(base_url=sandbox.registry_urls[0], timeout=30) as client:
        try:
            pull_image(client, TAGGED, "latest", stored.tagged)
        except CheckFailed as err:
            raise Broken(f"after gc: {err}") from None


def blob_digests(sandbox: Sandbox) -> set[str]:
    prefix = f"registry/{V2}blobs/"
    pages = sandbox.s3_client().get_paginator("list_objects_v2").paginate(Bucket=sandbox.bucket, Prefix=prefix)
    return {"sha256:" + o["Key"].split("/")[-2] for page in pages for o in page.get("Contents", [])}


def check_purge(sandbox: Sandbox, build: str) -> None:
    """The upload purger of `build` (bench/purgeuploads, built with it) removes an abandoned upload."""
    with httpx.Client(base_url=sandbox.registry_urls[0], timeout=30) as client:
        uuid = start_upload(client, TAGGED).split("/uploads/")[1].split("?")[0]
    purger = registry_builds.harness(build, "purge-uploads")
    config = sandbox.maintenance()["registryConfig"]
    done = subprocess.run([str(purger), config, "0s"], capture_output=True, text=True, timeout=120, check=False)
    prefix = f"registry/{V2}repositories/{TAGGED}/_uploads/{uuid}/"
    left = sandbox.s3_client().list_objects_v2(Bucket=sandbox.bucket, Prefix=prefix).get("KeyCount", 0)
    if done.returncode != 0:
        raise Broken(f"the purger exited {done.returncode}: {done.stderr.strip()[-120:]}")
    if left:
        raise Broken(f"purge left {left} objects of the abandoned upload")


def run_checks(sandbox: Sandbox, build: str) -> dict[str, str]:
    """{check: "ok" or what broke} on a new sandbox running `build`, in CHECKS order."""
    stored = fill(sandbox)
    checks: dict[str, Callable[[], None]] = {
        "catalog": lambda: check_catalog(sandbox),
        "tags": lambda: check_tags(sandbox),
        "pages": lambda: check_pages(sandbox),
        "gc": lambda: check_gc(sandbox, stored),
        "purge": lambda: check_purge(sandbox, build),
    }
    return {name: _outcome(check) for name, check in checks.items()}


def _outcome(check: Callable[[], None]) -> str:
    try:
        check()
    except (Broken, CheckFailed) as err:
        return str(err).splitlines()[0]
    return "ok"
