"""registry:access through a real edge on the default version: 5 users x 3 repositories x every
method, blob mounts, the catalog, paths that try to leave their repository, an expired robot.

What each user may do is written out by hand below (not derived from the renderer); every denial
is checked to change nothing, and every allowed write to take effect.
"""

from __future__ import annotations

import base64
import datetime
import socket
import ssl
from collections.abc import Iterator

import httpx
import pytest

from components.config.access import AccessRule
from components.config.base import User
from testbench.sandbox import Sandbox, SandboxUser, local_settings
from tests.dataplane.helpers import edge_client
from tools.oci_image import MANIFEST_TYPE, OciImage, build_image
from tools.verify import push_image, start_upload, upload_monolithic, with_digest

pytestmark = pytest.mark.dataplane

REPOSITORIES = ("team-a/api", "team-b/api", "shared/base")
RULES = [
    AccessRule(repositories=["team-a/*"], push=["ci-a"], delete=["janitor"]),
    AccessRule(repositories=["team-b/*"], push=["ci-b"], pull=["ci-a"]),
    AccessRule(repositories=["shared/base"], pull=["ci-a", "ci-b", "janitor", "robot"]),
]
EVERYTHING = {"pull", "push", "delete"}
# what each user may do on each repository, from RULES and registry:users by hand
ALLOWED: dict[str, dict[str, set[str]]] = {
    "admin": {repository: EVERYTHING for repository in REPOSITORIES},
    "dev": {repository: {"pull"} for repository in REPOSITORIES},  # access pull
    "ci-a": {"team-a/api": {"pull", "push"}, "team-b/api": {"pull"}, "shared/base": {"pull"}},
    "ci-b": {"team-a/api": set(), "team-b/api": {"pull", "push"}, "shared/base": {"pull"}},
    "janitor": {"team-a/api": {"delete"}, "team-b/api": set(), "shared/base": {"pull"}},
}


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    settings = local_settings(replicas=2)
    expired = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    users = [
        *settings.users,
        *(User(name=name) for name in ("ci-a", "ci-b", "janitor")),
        User(name="robot", expires_at=expired),
    ]
    with Sandbox(settings.model_copy(update={"users": users, "access": RULES})) as running:
        yield running


def user(box: Sandbox, name: str) -> SandboxUser:
    return next(u for u in box.users if u.name == name)


def seed(box: Sandbox, repository: str) -> OciImage:
    """A fresh image under tag v1, pushed by the admin."""
    image = build_image([4096])
    with edge_client(box, user(box, "admin")) as admin:
        push_image(admin, repository, "v1", image)
    return image


def denied(response: httpx.Response, action: str, repository: str) -> bool:
    if response.status_code != 403:
        return False
    [error] = response.json()["errors"]
    return error["code"] == "DENIED" and error["detail"] == [
        {"Type": "repository", "Class": "", "Name": repository, "Action": action}
    ]


def pull_requests(repository: str, image: OciImage) -> list[tuple[str, str]]:
    manifest = f"/v2/{repository}/manifests/v1"
    return [
        ("GET", manifest),
        ("HEAD", manifest),
        ("GET", f"/v2/{repository}/blobs/{image.config.digest}"),
        ("HEAD", f"/v2/{repository}/blobs/{image.layers[0].digest}"),
        ("GET", f"/v2/{repository}/tags/list"),
    ]


@pytest.mark.parametrize("repository", REPOSITORIES)
@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_pull_is_allowed_exactly_where_a_grant_says(box: Sandbox, name: str, repository: str) -> None:
    image = seed(box, repository)
    may = "pull" in ALLOWED[name][repository]
    with edge_client(box, user(box, name)) as client:
        for method, path in pull_requests(repository, image):
            answer = client.request(method, path, headers={"Accept": MANIFEST_TYPE})
            if may:
                assert answer.status_code == 200, (method, path, answer.text)
            elif method == "HEAD":
                assert answer.status_code == 403, (method, path)
            else:
                assert denied(answer, "pull", repository), (method, path, answer.text)


@pytest.mark.parametrize("repository", REPOSITORIES)
@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_push_with_post_patch_and_put_is_allowed_exactly_where_a_grant_says(
    box: Sandbox, name: str, repository: str
) -> None:
    image, tag = build_image([3000, 70_000]), f"by-{name}"
    admin = edge_client(box, user(box, "admin"))
    with edge_client(box, user(box, name)) as client, admin:
        if "push" in ALLOWED[name][repository]:
            push_image(client, repository, tag, image)  # POST, PATCH, PUT of blobs, PUT of the manifest
            assert admin.get(f"/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFEST_TYPE}).status_code == 200
            return
        assert denied(client.post(f"/v2/{repository}/blobs/uploads/"), "push", repository)
        session = start_upload(admin, repository)  # someone else's session: PATCH and PUT into it
        chunk = image.layers[0].data
        patch = client.patch(session, content=chunk, headers={"Content-Range": f"0-{len(chunk) - 1}"})
        assert denied(patch, "push", repository)
        assert denied(client.put(with_digest(session, image.layers[0].digest), content=chunk), "push", repository)
        assert admin.head(f"/v2/{repository}/blobs/{image.layers[0].digest}").status_code == 404, "a blob was written"
        upload_monolithic(admin, repository, image.config)
        for layer in image.layers:
            upload_monolithic(admin, repository, layer)
        put = client.put(
            f"/v2/{repository}/manifests/{tag}", content=image.manifest, headers={"Content-Type": MANIFEST_TYPE}
        )
        assert denied(put, "push", repository)
        assert admin.get(f"/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFEST_TYPE}).status_code == 404


@pytest.mark.parametrize("repository", REPOSITORIES)
@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_delete_is_allowed_exactly_where_a_grant_says(box: Sandbox, name: str, repository: str) -> None:
    image = seed(box, repository)
    manifest = f"/v2/{repository}/manifests/{image.manifest_digest}"
    with edge_client(box, user(box, name)) as client, edge_client(box, user(box, "admin")) as admin:
        answer = client.delete(manifest)
        if "delete" in ALLOWED[name][repository]:
            assert answer.status_code == 202, answer.text
            assert admin.head(manifest, headers={"Accept": MANIFEST_TYPE}).status_code == 404
        else:
            assert denied(answer, "delete", repository), answer.text
            assert admin.head(manifest, headers={"Accept": MANIFEST_TYPE}).status_code == 200, "it was deleted"


def mount(client: httpx.Client, target: str, digest: str, source: str) -> httpx.Response:
    # as docker sends it: url.Values sorted, the source's '/' encoded
    return client.post(f"/v2/{target}/blobs/uploads/?from={source.replace('/', '%2F')}&mount={digest}")


def test_a_mount_needs_pull_on_the_source_and_push_on_the_target(box: Sandbox) -> None:
    image = seed(box, "team-a/api")
    blob = image.layers[0].digest
    with edge_client(box, user(box, "admin")) as admin:
        upload_monolithic(admin, "team-b/api", build_image([10]).config)  # team-b/api exists either way
        theirs = seed(box, "team-b/api").layers[0].digest
    with edge_client(box, user(box, "ci-a")) as ci_a:
        mounted = mount(ci_a, "team-a/mounted", theirs, "team-b/api")  # pull on team-b, push on team-a
        assert mounted.status_code == 201, mounted.text
        assert ci_a.head(f"/v2/team-a/mounted/blobs/{theirs}").status_code == 200
        assert denied(mount(ci_a, "team-b/mounted", blob, "team-a/api"), "push", "team-b/mounted")
    with edge_client(box, user(box, "ci-b")) as ci_b, edge_client(box, user(box, "admin")) as admin:
        refused = mount(ci_b, "team-b/mounted", blob, "team-a/api")  # no pull on team-a: refused whole
        assert refused.status_code == 403 and "may not pull team-a%2Fapi" in refused.text
        raw_slash = ci_b.post(f"/v2/team-b/mounted/blobs/uploads/?mount={blob}&from=team-a/api")
        assert raw_slash.status_code == 403
        hidden = ci_b.post(f"/v2/team-b/mounted/blobs/uploads/?mount={blob}&fr%6Fm=team-a%2Fapi")
        assert hidden.status_code == 404 and hidden.json()["errors"][0]["code"] == "NAME_UNKNOWN"
        form = ci_b.post(
            "/v2/team-b/mounted/blobs/uploads/",
            content=f"mount={blob}&from=team-a/api",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert form.status_code == 400 and form.json()["errors"][0]["code"] == "UNSUPPORTED"
        assert admin.head(f"/v2/team-b/mounted/blobs/{blob}").status_code == 404, "the blob was mounted"


def test_the_catalog_lists_for_those_who_may_pull_everything_only(box: Sandbox) -> None:
    seed(box, "shared/base")
    for name, lists in {"admin": True, "dev": True, "ci-a": False, "ci-b": False, "janitor": False}.items():
        with edge_client(box, user(box, name)) as client:
            answer = client.get("/v2/_catalog")
            if lists:
                assert answer.status_code == 200 and "shared/base" in answer.json()["repositories"], name
            else:
                assert answer.status_code == 403 and answer.json()["errors"][0]["detail"][0]["Name"] == "catalog"
    with edge_client(box, None) as anonymous:
        answer = anonymous.get("/v2/_catalog")
        assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == 'Basic realm="registry"'


def raw_get(box: Sandbox, name: str, path: str) -> int:
    """GET `path` exactly as written (httpx would resolve '..' before sending it)."""
    who = user(box, name)
    host, port = box.url.removeprefix("https://").rsplit(":", 1)
    context = ssl.create_default_context(cafile=str(box.ca_file))
    with (
        socket.create_connection((host, int(port)), timeout=30) as plain,
        context.wrap_socket(plain, server_hostname=host) as tls,
    ):
        token = "Basic " + base64.b64encode(f"{who.name}:{who.password}".encode()).decode()
        tls.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: {token}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        status_line = tls.recv(4096).split(b"\r\n", 1)[0]
    return int(status_line.split()[1])


@pytest.mark.parametrize(
    "path",
    [
        "/v2/team-b/../team-a/api/tags/list",
        "/v2/team-b/%2e%2e/team-a/api/tags/list",
        "/v2/team-b/api/../../team-a/api/tags/list",
        "/v2/team-b//../team-a/api/tags/list",
        "/v2/team-b/./../team-a/api/tags/list",
        "/v2/Team-A/api/tags/list",
        "/v2/team-a%2fapi/tags/list",
    ],
)
def test_a_path_that_tries_to_leave_its_repository_is_refused(box: Sandbox, path: str) -> None:
    seed(box, "team-a/api")
    assert raw_get(box, "ci-b", path) == 404  # ci-b may pull team-b, never team-a: refused, never served
    assert raw_get(box, "ci-b", "/v2/team-b/api/tags/list") == 200


def test_an_expired_robot_is_refused_even_where_a_rule_names_it(box: Sandbox) -> None:
    seed(box, "shared/base")
    with edge_client(box, user(box, "robot")) as robot:
        answer = robot.get("/v2/shared/base/tags/list")
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == 'Basic realm="registry"'
