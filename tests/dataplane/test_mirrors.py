"""Pull-through mirrors, real processes: a second registry plays the upstream, the sandbox runs what
the local target renders for `registry:mirrors` (two proxy-mode instances per mirror, the edge's
pull-only locations and a root listener) and real clients pull through it."""

from __future__ import annotations

import datetime
import json
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from components.config.mirrors import SelfHostedMirror
from components.renderers.distribution import mirror_root
from testbench.sandbox import Sandbox, UpstreamRegistry, http_status, local_settings
from tests.dataplane.helpers import both_versions, edge_client, edge_host
from tools.oci_image import MANIFEST_TYPE, OciImage, build_image, sha256_digest
from tools.skopeo import Skopeo
from tools.verify import CheckFailed, follow_pages, pull_image, push_image

pytestmark = [pytest.mark.dataplane, both_versions]
PATH_MIRROR, ROOT_MIRROR, OPEN_MIRROR = "upstream", "upstream-root", "upstream-open"
SCHEDULER_STATE = (
    "scheduler-state.json"  # distribution registry/proxy/proxyregistry.go: scheduler.New(..., "/scheduler-state.json")
)


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpstreamRegistry]:
    with UpstreamRegistry(tmp_path_factory.mktemp("upstream")) as running:
        yield running


@pytest.fixture(autouse=True)
def upstream_is_up(upstream: UpstreamRegistry) -> None:
    """Each test starts with the upstream answering (some stop it)."""
    if upstream.stopped:
        upstream.start()


@pytest.fixture(scope="module")
def box(upstream: UpstreamRegistry, registry_version: str) -> Iterator[Sandbox]:
    ca = upstream.ca_file.read_text()
    mirrors = [
        SelfHostedMirror(name=PATH_MIRROR, upstream=upstream.url, ca_certificate=ca),
        SelfHostedMirror(name=ROOT_MIRROR, upstream=upstream.url, ca_certificate=ca, port=5444),
        SelfHostedMirror(name=OPEN_MIRROR, upstream=upstream.url, ca_certificate=ca, anonymous=True),
    ]
    settings = local_settings(replicas=2, version=registry_version).model_copy(update={"mirrors": mirrors})
    with Sandbox(settings) as running:
        yield running


@pytest.fixture(scope="module")
def skopeo(box: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Skopeo:
    """skopeo trusting this module's sandbox CA (the edge and the root listener share its certificate)."""
    return Skopeo(tmp_path_factory.mktemp("mirror-certs"), box.ca_file)


def upstream_image(upstream: UpstreamRegistry, repository: str, layers: list[int] | None = None) -> OciImage:
    """A new image pushed straight to the upstream as `<repository>:v1`."""
    image = build_image(layers or [512 * 1024, 4096])
    verify = ssl.create_default_context(cafile=str(upstream.ca_file))
    with httpx.Client(base_url=upstream.url, verify=verify, timeout=60) as client:
        push_image(client, repository, "v1", image)
    return image


def pull_and_wait_until_cached(
    box: Sandbox, client: httpx.Client, mirror: str, repository: str, image: OciImage
) -> None:
    """Pull `repository:v1` through `mirror`, then wait until the mirror has stored every blob."""
    pull_image(client, f"{mirror}/{repository}", "v1", image)
    box.wait_until_cached(mirror, repository, [b.digest for b in image.blobs], timeout=30)


def direct(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=60)


def pulled_digests(layout: Path) -> tuple[str, set[str]]:
    """(manifest digest named in index.json, digests computed from every blob's bytes)."""
    manifest = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
    return manifest, {sha256_digest(p.read_bytes()) for p in (layout / "blobs" / "sha256").iterdir()}


def test_a_cold_pull_through_the_mirror_returns_the_upstreams_digests(
    box: Sandbox, upstream: UpstreamRegistry, skopeo: Skopeo, tmp_path: Path
) -> None:
    image = upstream_image(upstream, "team/cold")
    reader = box.user("pull")
    pulled = tmp_path / "pulled"
    skopeo.copy(
        f"docker://{edge_host(box)}/{PATH_MIRROR}/team/cold:v1",
        f"oci:{pulled}:v1",
        skopeo.tls_flags("src", reader.name, reader.password),
    )
    assert pulled_digests(pulled) == (image.manifest_digest, {b.digest for b in image.blobs} | {image.manifest_digest})


def test_a_warm_pull_is_served_by_both_instances_with_the_upstream_stopped(
    box: Sandbox, upstream: UpstreamRegistry
) -> None:
    image = upstream_image(upstream, "team/warm")
    with edge_client(box, box.user("push")) as client:  # writers may pull through mirrors too
        pull_and_wait_until_cached(box, client, PATH_MIRROR, "team/warm", image)
    upstream.stop()
    for url in box.mirror_urls(PATH_MIRROR):  # the one that fetched it and the one standing by
        with direct(url) as instance:
            pull_image(instance, "team/warm", "v1", image)
    with edge_client(box, box.user("pull")) as client:
        pull_image(client, f"{PATH_MIRROR}/team/warm", "v1", image)


def test_the_standby_instance_serves_through_the_edge_when_the_first_is_gone(
    box: Sandbox, upstream: UpstreamRegistry
) -> None:
    image = upstream_image(upstream, "team/failover")
    with edge_client(box, box.user("pull")) as client:
        pull_and_wait_until_cached(box, client, PATH_MIRROR, "team/failover", image)
        upstream.stop()
        box.kill(f"mirror-{PATH_MIRROR}-0")
        try:
            pull_image(client, f"{PATH_MIRROR}/team/failover", "v1", image)
        finally:
            upstream.start()  # a proxy instance asks the upstream's /v2/ as it starts
            box.start_mirror(PATH_MIRROR, 0)


WRITES = [
    ("POST", "/blobs/uploads/"),
    ("PUT", "/manifests/v1"),
    ("PATCH", "/blobs/uploads/some-upload"),
    ("DELETE", "/manifests/v1"),
]


@pytest.mark.parametrize("access", ["push", "pull"])
def test_every_write_to_a_mirror_is_refused_for_every_user(box: Sandbox, access: str) -> None:
    user = box.user(access)
    verify = ssl.create_default_context(cafile=str(box.ca_file))
    for base, prefix in ((box.url, f"/v2/{PATH_MIRROR}/team/app"), (box.mirror_root_url(ROOT_MIRROR), "/v2/team/app")):
        with httpx.Client(base_url=base, verify=verify, auth=(user.name, user.password), timeout=30) as client:
            for method, path in WRITES:
                answer = client.request(method, f"{prefix}{path}", content=b"{}")
                assert answer.status_code == 405, (base, method, answer.text)
                assert answer.json()["errors"][0]["code"] == "UNSUPPORTED"
                assert answer.headers["Docker-Distribution-Api-Version"] == "registry/2.0"


def test_a_mirror_needs_a_login_unless_it_is_anonymous(box: Sandbox, upstream: UpstreamRegistry) -> None:
    image = upstream_image(upstream, "team/open")
    with edge_client(box, None) as anonymous:
        refused = anonymous.get(f"/v2/{PATH_MIRROR}/team/open/manifests/v1", headers={"Accept": MANIFEST_TYPE})
        assert refused.status_code == 401
        pull_image(anonymous, f"{OPEN_MIRROR}/team/open", "v1", image)
        assert anonymous.post(f"/v2/{OPEN_MIRROR}/team/open/blobs/uploads/").status_code == 405


def test_the_root_listener_serves_the_mirror_at_v2(
    box: Sandbox, upstream: UpstreamRegistry, skopeo: Skopeo, tmp_path: Path
) -> None:
    image = upstream_image(upstream, "library/base")
    reader = box.user("pull")
    pulled = tmp_path / "pulled"
    root = box.mirror_root_url(ROOT_MIRROR).removeprefix("https://")
    skopeo.copy(
        f"docker://{root}/library/base:v1", f"oci:{pulled}:v1", skopeo.tls_flags("src", reader.name, reader.password)
    )
    assert pulled_digests(pulled)[0] == image.manifest_digest
    verify = ssl.create_default_context(cafile=str(box.ca_file))
    with httpx.Client(base_url=box.mirror_root_url(ROOT_MIRROR), verify=verify, timeout=30) as client:
        assert client.get("/v2/").status_code == 401
        assert client.get("/v2/", headers={"Host": "elsewhere.example"}).status_code == 421


def test_tag_pages_through_a_mirror_follow_their_links_on_both_listener_styles(
    box: Sandbox, upstream: UpstreamRegistry, registry_version: str
) -> None:
    """distribution writes the next page's Link from the path it was asked (catalog.go
    createLinkEntry): the mirror's `/v2/...`, which the edge gives back its prefix."""
    tags = ["t01", "t02", "t03", "t04", "t05"]
    image = build_image([2048])
    verify = ssl.create_default_context(cafile=str(upstream.ca_file))
    with httpx.Client(base_url=upstream.url, verify=verify, timeout=60) as client:
        for tag in tags:
            push_image(client, "team/pages", tag, image)
    reader = box.user("pull")
    ca = ssl.create_default_context(cafile=str(box.ca_file))
    for base, prefix in ((box.url, f"/v2/{PATH_MIRROR}/"), (box.mirror_root_url(ROOT_MIRROR), "/v2/")):
        with httpx.Client(base_url=base, verify=ca, auth=(reader.name, reader.password), timeout=30) as client:
            first = client.get(f"{prefix}team/pages/tags/list?n=2")
            assert first.status_code == 200, first.text
            if registry_version != "2":  # 2.8 has no tag pagination: one page, no Link
                assert first.json()["tags"] == tags[:2]
                assert first.headers["Link"] == f'<{prefix}team/pages/tags/list?last=t02&n=2>; rel="next"'
            assert sorted(follow_pages(client, f"{prefix}team/pages/tags/list?n=2", "tags")) == tags


def test_an_expired_copy_with_the_upstream_down_fails_with_a_clear_error(
    box: Sandbox, upstream: UpstreamRegistry
) -> None:
    """What distribution's scheduler does when a cached manifest's TTL passes (OnManifestExpire:
    the revision link goes, the tag stays), made to happen now: the state file's expiry is moved
    into the past and the serving instance restarted, which fires it at once (scheduler.go Start)."""
    image = upstream_image(upstream, "team/expiring")
    with edge_client(box, box.user("pull")) as client:
        pull_image(client, f"{PATH_MIRROR}/team/expiring", "v1", image)
    s3 = box.s3_client()
    key = mirror_root(PATH_MIRROR).strip("/") + f"/{SCHEDULER_STATE}"
    entry = f"team/expiring@{image.manifest_digest}"
    state = _wait_for_entry(s3, box.bucket, key, entry)
    state[entry]["ExpiryData"] = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)).isoformat()
    s3.put_object(Bucket=box.bucket, Key=key, Body=json.dumps(state).encode())
    box.kill(f"mirror-{PATH_MIRROR}-0")
    box.start_mirror(PATH_MIRROR, 0)
    upstream.stop()
    with edge_client(box, box.user("pull")) as client:
        expired = _wait_for(lambda: _manifest_status(client, "team/expiring"), 502)
        error = expired.json()["errors"][0]
        assert error["code"] == "UNAVAILABLE"
        upstream_host = upstream.url.removeprefix("https://")
        assert (
            error["message"] == f"mirror {PATH_MIRROR} has no unexpired copy of this and {upstream_host} did not answer"
        )
        with pytest.raises(CheckFailed):
            pull_image(client, f"{PATH_MIRROR}/team/expiring", "v1", image)


def _manifest_status(client: httpx.Client, repository: str) -> httpx.Response:
    return client.get(f"/v2/{PATH_MIRROR}/{repository}/manifests/v1", headers={"Accept": MANIFEST_TYPE})


def _wait_for(answer: Callable[[], httpx.Response], status: int, timeout: float = 30.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while (response := answer()).status_code != status and time.monotonic() < deadline:
        time.sleep(0.2)
    assert response.status_code == status, response.text
    return response


def _wait_for_entry(s3: Any, bucket: str, key: str, entry: str, timeout: float = 30.0) -> dict[str, dict[str, Any]]:
    """The scheduler saves its state every 5 s after a change (scheduler.go indexSaveFrequency)."""
    deadline = time.monotonic() + timeout
    state: dict[str, dict[str, Any]] = {}
    while entry not in state:
        assert time.monotonic() < deadline, f"{entry} never reached {key}: {sorted(state)}"
        time.sleep(0.5)
        try:
            state = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except s3.exceptions.NoSuchKey:
            state = {}
    return state


def test_an_instance_started_while_its_upstream_is_down_serves_once_the_upstream_is_back(
    box: Sandbox, upstream: UpstreamRegistry
) -> None:
    """distribution exits at start when the upstream's /v2/ does not answer; mirror_serve_script
    starts it again until it stays up, as the local and aws targets run it."""
    upstream.stop()
    box.kill(f"mirror-{PATH_MIRROR}-1")
    box.start_mirror(PATH_MIRROR, 1, wait=False)
    log = box.dir / "logs" / f"mirror-{PATH_MIRROR}-1.log"
    deadline = time.monotonic() + 30
    while "starting it again" not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, "the instance neither failed nor was started again"
        time.sleep(0.2)
    upstream.start()
    deadline = time.monotonic() + 30
    while http_status(f"{box.mirror_urls(PATH_MIRROR)[1]}/v2/") != 200:
        assert time.monotonic() < deadline, "the instance did not serve after the upstream came back"
        time.sleep(0.2)
