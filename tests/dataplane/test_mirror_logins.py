"""A mirror whose upstream refuses its login, real processes: distribution alone answers a pull of
an uncached tag with 404 MANIFEST_UNKNOWN (registry/proxy/proxytagservice.go Get falls back to the
local tag on any remote error); through the edge the client reads that the upstream refused the
credentials. Two upstreams: one asking for a Basic login (distribution's htpasswd), one sending a
Bearer challenge for a token realm, as Docker Hub does."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import httpx
import pytest

from components.config.mirrors import SelfHostedMirror
from testbench.sandbox import Sandbox, UpstreamRegistry, local_settings
from testbench.token_realm import TokenRealm
from tests.dataplane.helpers import both_versions, edge_client
from tools.oci_image import MANIFEST_TYPE, OciImage, build_image
from tools.verify import pull_image, push_image

pytestmark = [pytest.mark.dataplane, both_versions]
LOGIN = ("mirror-bot", "the-right-token")
WRONG = "a-revoked-token"
BASIC_OK, BASIC_WRONG, BASIC_NONE, TOKEN_OK, TOKEN_WRONG = (
    "basic-ok",
    "basic-wrong",
    "basic-none",
    "token-ok",
    "token-wrong",
)
REFUSED = "upstream refused the credentials"


@pytest.fixture(scope="module")
def realm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenRealm]:
    with TokenRealm(tmp_path_factory.mktemp("realm"), LOGIN) as running:
        yield running


@pytest.fixture(scope="module")
def basic_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpstreamRegistry]:
    with UpstreamRegistry(tmp_path_factory.mktemp("basic-upstream"), login=LOGIN) as running:
        yield running


@pytest.fixture(scope="module")
def token_upstream(tmp_path_factory: pytest.TempPathFactory, realm: TokenRealm) -> Iterator[UpstreamRegistry]:
    with UpstreamRegistry(tmp_path_factory.mktemp("token-upstream"), token_realm=realm.url) as running:
        yield running


@pytest.fixture(scope="module")
def box(
    basic_upstream: UpstreamRegistry, token_upstream: UpstreamRegistry, realm: TokenRealm, registry_version: str
) -> Iterator[Sandbox]:
    basic_ca = basic_upstream.ca_file.read_text()
    token_ca = token_upstream.ca_file.read_text() + realm.ca_file.read_text()  # the registry's and its realm's

    def mirror(name: str, upstream: UpstreamRegistry, ca: str, token: str | None, **more: int) -> SelfHostedMirror:
        login = {"username": LOGIN[0], "access_token": token} if token is not None else {}
        return SelfHostedMirror(name=name, upstream=upstream.url, ca_certificate=ca, **login, **more)

    mirrors = [
        mirror(BASIC_OK, basic_upstream, basic_ca, LOGIN[1]),
        mirror(BASIC_WRONG, basic_upstream, basic_ca, WRONG, port=5445),
        mirror(BASIC_NONE, basic_upstream, basic_ca, None),
        mirror(TOKEN_OK, token_upstream, token_ca, LOGIN[1]),
        mirror(TOKEN_WRONG, token_upstream, token_ca, WRONG),
    ]
    settings = local_settings(version=registry_version).model_copy(update={"mirrors": mirrors})
    with Sandbox(settings) as running:
        yield running


@pytest.fixture(scope="module")
def image(basic_upstream: UpstreamRegistry) -> OciImage:
    """team/app:v1 on the Basic upstream, pushed with its login."""
    built = build_image([4096])
    verify = ssl.create_default_context(cafile=str(basic_upstream.ca_file))
    with httpx.Client(base_url=basic_upstream.url, verify=verify, auth=LOGIN, timeout=60) as client:
        push_image(client, "team/app", "v1", built)
    return built


def manifest(client: httpx.Client, path: str, method: str = "GET") -> httpx.Response:
    return client.request(method, path, headers={"Accept": MANIFEST_TYPE})


@pytest.mark.parametrize("name", [BASIC_WRONG, TOKEN_WRONG])
def test_a_refused_login_is_named_where_the_mirror_alone_says_manifest_unknown(
    box: Sandbox, image: OciImage, name: str
) -> None:
    with httpx.Client(base_url=box.mirror_urls(name)[0], timeout=30) as instance:
        alone = manifest(instance, "/v2/team/app/manifests/v1")
    assert alone.status_code == 404 and alone.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"  # the problem
    with edge_client(box, box.user("pull")) as client:
        answer = manifest(client, f"/v2/{name}/team/app/manifests/v1")
        head = manifest(client, f"/v2/{name}/team/app/manifests/v1", "HEAD")
    assert answer.status_code == 502, answer.text
    error = answer.json()["errors"][0]
    assert error["code"] == "UNAVAILABLE"
    assert error["message"] == f"mirror {name}: {REFUSED}"
    assert "HTTP 401 from https://127.0.0.1:" in error["detail"]
    assert "accessToken" in error["detail"] and "cached images are still served" in error["detail"]
    assert answer.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    assert head.status_code == 502


def test_a_refused_login_is_named_on_a_root_listener_and_by_digest(box: Sandbox, image: OciImage) -> None:
    verify = ssl.create_default_context(cafile=str(box.ca_file))
    reader = box.user("pull")
    root = box.mirror_root_url(BASIC_WRONG)
    with httpx.Client(base_url=root, verify=verify, auth=(reader.name, reader.password), timeout=30) as client:
        by_tag = manifest(client, "/v2/team/app/manifests/v1")
        by_digest = manifest(client, f"/v2/team/app/manifests/{image.manifest_digest}")
    for answer in (by_tag, by_digest):
        assert answer.status_code == 502, answer.text
        assert answer.json()["errors"][0]["message"] == f"mirror {BASIC_WRONG}: {REFUSED}"


def test_a_mirror_without_a_login_is_told_it_has_none(box: Sandbox, image: OciImage) -> None:
    with edge_client(box, box.user("pull")) as client:
        answer = manifest(client, f"/v2/{BASIC_NONE}/team/app/manifests/v1")
    assert answer.status_code == 502, answer.text
    assert answer.json()["errors"][0]["message"] == f"mirror {BASIC_NONE}: {REFUSED} (the mirror has none)"


def test_an_accepted_basic_login_pulls_on_3_and_2_8_says_it_cannot_log_in(box: Sandbox, image: OciImage) -> None:
    """distribution 2.8's proxy keeps credentials for Bearer realms only (registry/proxy/proxyauth.go
    getAuthURLs); 3.0 added a Basic handler (proxyregistry.go Repository: auth.NewBasicHandler)."""
    with edge_client(box, box.user("pull")) as client:
        if box.settings.version != "2":
            pull_image(client, f"{BASIC_OK}/team/app", "v1", image)
            no_blob = client.head(f"/v2/{BASIC_OK}/team/app/blobs/sha256:{'0' * 64}")
            assert no_blob.status_code == 404  # other 404s pass as the mirror gave them
            return
        answer = manifest(client, f"/v2/{BASIC_OK}/team/app/manifests/v1")
    assert answer.status_code == 502, answer.text
    error = answer.json()["errors"][0]
    assert (
        error["message"]
        == f"mirror {BASIC_OK}: distribution 2.8 never sends its login to an upstream that asks for Basic"
    )
    assert "set registry:version to 3" in error["detail"]


def test_a_token_realm_is_asked_for_the_repository_with_the_login(
    box: Sandbox, image: OciImage, realm: TokenRealm
) -> None:
    """distribution's proxy asks the realm the same way (registry/client/auth/session.go
    fetchTokenWithBasicAuth: service and scope in the query, the login as Basic)."""
    before = len(realm.requests)
    with edge_client(box, box.user("pull")) as client:
        answer = manifest(client, f"/v2/{TOKEN_OK}/team/other/manifests/v1")
    assert answer.status_code == 404, answer.text  # the login was accepted: nothing refused, nothing there
    error = answer.json()["errors"][0]
    assert error["code"] == "MANIFEST_UNKNOWN"
    upstream = next(m.remote_url for m in box.settings.mirrors if m.name == TOKEN_OK)
    assert error["detail"] == f"mirror {TOKEN_OK} has no team/other:v1 and {upstream} has none either"
    assert {"service": ["upstream"], "scope": ["repository:team/other:pull"]} in realm.requests[before:]
