"""check_every_tag: every tag, an index's children and every blob pulled, each digest checked."""

from __future__ import annotations

import json

import httpx

from tools.oci_image import INDEX_TYPE, MANIFEST_TYPE, OciImage, build_image, sha256_digest
from tools.verify import catalog_tags, check_every_tag


def registry(
    images: dict[str, OciImage], tags: dict[str, bytes], corrupt: frozenset[str] = frozenset()
) -> httpx.Client:
    """One repository `app` answering manifests by tag or digest and blobs by digest."""
    manifests = {i.manifest_digest: i.manifest for i in images.values()} | {sha256_digest(b): b for b in tags.values()}
    blobs = {b.digest: b.data for i in images.values() for b in i.blobs}

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v2/_catalog":
            return httpx.Response(200, json={"repositories": ["app"]})
        if path == "/v2/app/tags/list":
            return httpx.Response(200, json={"name": "app", "tags": sorted(tags)})
        reference = path.rsplit("/", 1)[1]
        if "/manifests/" in path:
            body = tags.get(reference) or manifests.get(reference)
            return httpx.Response(200, content=body) if body else httpx.Response(404)
        data = blobs.get(reference)
        if data is None:
            return httpx.Response(404)
        return httpx.Response(200, content=b"tampered" if reference in corrupt else data)

    return httpx.Client(base_url="http://registry", transport=httpx.MockTransport(answer))


def index_of(*children: OciImage) -> bytes:
    entries = [{"mediaType": MANIFEST_TYPE, "digest": c.manifest_digest, "size": len(c.manifest)} for c in children]
    return json.dumps({"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": entries}).encode()


def test_every_tag_index_child_and_blob_is_pulled_once() -> None:
    one, amd, arm = build_image([100, 200]), build_image([300]), build_image([400])
    tags = {"v1": one.manifest, "v1-again": one.manifest, "multi": index_of(amd, arm)}
    with registry({"one": one, "amd": amd, "arm": arm}, tags) as client:
        expected = {("app", t): sha256_digest(b) for t, b in tags.items()}
        report = check_every_tag(client, expected)
    assert report.failures == ()
    assert (report.tags, report.repositories, report.manifests, report.blobs) == (3, 1, 5, 7)
    assert report.lines()[0].startswith("PASS  3 tags in 1 repositories: 5 manifests and 7 blobs")


def test_a_blob_whose_bytes_differ_from_its_digest_fails_naming_the_tag() -> None:
    image = build_image([100])
    with registry({"image": image}, {"v1": image.manifest}, corrupt=frozenset({image.layers[0].digest})) as client:
        report = check_every_tag(client, {("app", "v1"): image.manifest_digest})
    assert report.failures == (
        f"app:v1: blob {image.layers[0].digest[:19]} came back with digest sha256:" + sha256_digest(b"tampered")[7:19],
    )
    assert report.lines()[0].startswith("FAIL  1 problems")


def test_a_tag_that_names_another_manifest_than_the_store_says_fails() -> None:
    image, other = build_image([100]), build_image([100])
    with registry({"image": image, "other": other}, {"v1": other.manifest}) as client:
        report = check_every_tag(client, {("app", "v1"): image.manifest_digest})
    assert report.failures and f"expected {image.manifest_digest}" in report.failures[0]


def test_a_missing_tag_fails() -> None:
    with registry({}, {}) as client:
        report = check_every_tag(client, {("app", "gone"): None})
    assert report.failures and "GET manifest gone answered 404" in report.failures[0]


def test_the_catalog_lists_every_repository_and_tag() -> None:
    image = build_image([10])
    with registry({"image": image}, {"a": image.manifest, "b": image.manifest}) as client:
        assert catalog_tags(client) == {("app", "a"): None, ("app", "b"): None}
