"""registry:access as the edge renders it: the maps evaluated the way nginx evaluates them (exact
keys first, then regexes in order; ngx_http_map_module), so every line that decides is pinned by
what it decides. tests/dataplane/test_access.py runs the same maps in a real nginx."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from components.config.loading import load_settings
from components.config.selfhosted import SelfHosted
from components.renderers.access import access_maps, catalog_users, repository_regex

BLOB = "sha256:" + "a" * 64


def settings() -> SelfHosted:
    raw = {
        "registry:users": '[{"name":"admin","access":"admin"},{"name":"dev","access":"pull"},'
        '{"name":"ci-a"},{"name":"ci-b"},{"name":"janitor"},{"name":"ci.x"}]',
        "registry:access": '[{"repositories":["team-a/*"],"push":["ci-a"],"delete":["janitor"]},'
        '{"repositories":["team-b/*","shared/base"],"push":["ci-b"],"pull":["ci-a"]},'
        '{"repositories":["team-*"],"pull":["ci.x"]}]',
    }
    loaded = load_settings(raw)
    assert isinstance(loaded, SelfHosted)
    return loaded


@dataclass
class NginxMaps:
    """The `map` blocks of a rendered http context, evaluated as nginx does."""

    text: str
    blocks: dict[str, tuple[str, list[tuple[str, str]]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for source, variable, body in re.findall(r"map (\"[^\"]+\"|\S+) (\$\w+) \{\n(.*?)\n    \}", self.text, re.S):
            entries = []
            for line in body.splitlines():
                key, value = re.match(r"\s*(\"[^\"]*\"|\S+) (.*);$", line).groups()  # type: ignore[union-attr]
                quoted = len(value) > 1 and value[0] in "'\"" and value[-1] == value[0]
                entries.append((key.strip('"'), value[1:-1] if quoted else value))
            self.blocks[variable] = (source.strip('"'), entries)

    def value(self, variable: str, known: dict[str, str]) -> str:
        source, entries = self.blocks[variable]
        key = re.sub(r"\$(\w+)", lambda m: self._get("$" + m.group(1), known), source)
        exact = {k: v for k, v in entries if not k.startswith("~") and k != "default"}
        if key in exact:
            return self._expand(exact[key], known)
        for pattern, value in entries:
            if pattern.startswith("~"):
                flags = re.I if pattern.startswith("~*") else 0
                found = re.search(pattern.lstrip("~*"), key, flags)
                if found:
                    return self._expand(found.expand(re.sub(r"\$(\d)", r"\\\1", value)), known)
        return self._expand(dict(entries).get("default", ""), known)

    def _expand(self, value: str, known: dict[str, str]) -> str:
        """A value naming other variables, as nginx computes it when the entry is chosen."""
        return re.sub(r"\$([a-z_]+)", lambda m: self._get("$" + m.group(1), known), value)

    def _get(self, name: str, known: dict[str, str]) -> str:
        return known[name] if name in known else self.value(name, known)

    def request(self, user: str, method: str, uri: str, content_type: str = "") -> dict[str, str]:
        known = {"$remote_user": user, "$request_method": method, "$request_uri": uri, "$content_type": content_type}
        names = ["$edge_route", "$edge_repository", "$edge_refused", "$edge_form_body"]
        return {name: self._get(name, known) for name in names}


MAPS = NginxMaps(access_maps(settings().edge_grants))


@pytest.mark.parametrize(
    ("uri", "route", "repository"),
    [
        ("/v2/", "base", ""),
        ("/v2/_catalog?n=100&last=a", "catalog", ""),
        ("/v2/team-a/api/manifests/v1.2", "repository", "team-a/api"),
        (f"/v2/team-a/api/manifests/{BLOB}", "repository", "team-a/api"),
        (f"/v2/team-a/api/blobs/{BLOB}", "repository", "team-a/api"),
        ("/v2/team-a/api/blobs/uploads/", "repository", "team-a/api"),
        (f"/v2/a/b/c/blobs/uploads/?mount={BLOB}&from=team-b%2Fapi", "repository", "a/b/c"),
        ("/v2/team-a/api/blobs/uploads/6b7f-42a1?_state=x%3D&digest=sha256%3Aab", "repository", "team-a/api"),
        ("/v2/team-a/api/tags/list?n=10", "repository", "team-a/api"),
        (f"/v2/team-a/api/referrers/{BLOB}", "repository", "team-a/api"),
        # names that contain route words still resolve to the name distribution resolves
        ("/v2/x/tags/list/manifests/latest", "repository", "x/tags/list"),
        ("/v2/a/blobs/uploads/blobs/uploads/", "repository", "a/blobs/uploads"),
        # never attributed to a repository: escapes, encodings, capitals, empty segments, unknown routes
        ("/v2/team-b/../team-a/api/tags/list", "invalid", ""),
        ("/v2/team-b/%2e%2e/team-a/api/tags/list", "invalid", ""),
        ("/v2/team-b/./api/tags/list", "invalid", ""),
        ("/v2/team-b//api/tags/list", "invalid", ""),
        ("/v2//team-b/api/tags/list", "invalid", ""),
        ("/v2/Team-A/api/tags/list", "invalid", ""),
        ("/v2/team-a%2Fapi/tags/list", "invalid", ""),
        ("/v2/team-a/api/manifests/.hidden", "invalid", ""),
        ("/v2/team-a/api/blobs/uploads/?fr%6Fm=team-b%2Fapi&mount=x", "invalid", ""),
        ("/v2/team-a/api/blobs/uploads/?mount=abcfrom=team-b", "invalid", ""),
        ("/v2/team-a/api/blobs/uploads/?from=team-b%2Fapi;from=x", "invalid", ""),
        ("/v2/team-a/api/unknown/x", "invalid", ""),
        ("/v2/_catalog/x", "invalid", ""),
    ],
)
def test_each_request_is_attributed_to_the_repository_distribution_serves(
    uri: str, route: str, repository: str
) -> None:
    seen = MAPS.request("admin", "GET", uri)
    assert (seen["$edge_route"], seen["$edge_repository"]) == (route, repository)


# who may do what, written out by hand from the rules in settings() (not derived from the renderer)
EXPECTED = {
    ("admin", "team-a/api"): {"pull", "push", "delete"},
    ("admin", "other/x"): {"pull", "push", "delete"},
    ("dev", "team-a/api"): {"pull"},
    ("dev", "other/x"): {"pull"},
    ("ci-a", "team-a/api"): {"pull", "push"},
    ("ci-a", "team-b/api"): {"pull"},
    ("ci-a", "shared/base"): {"pull"},
    ("ci-a", "shared/base-2"): set(),
    ("ci-a", "team-ab/api"): set(),
    ("ci-b", "team-a/api"): set(),
    ("ci-b", "team-b/api"): {"pull", "push"},
    ("ci-b", "team-b/deep/er"): {"pull", "push"},
    ("ci-b", "shared/base"): {"pull", "push"},
    ("janitor", "team-a/api"): {"delete"},
    ("janitor", "team-b/api"): set(),
    ("ci.x", "team-ab/api"): {"pull"},
    ("ci.x", "teamx/api"): set(),
    ("cixx", "team-ab/api"): set(),  # the '.' of ci.x is not a wildcard
    ("stranger", "team-a/api"): set(),
}
METHODS = {"GET": "pull", "HEAD": "pull", "POST": "push", "PUT": "push", "PATCH": "push", "DELETE": "delete"}


@pytest.mark.parametrize(("user", "repository"), sorted(EXPECTED))
@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_is_allowed_exactly_where_a_grant_says(user: str, repository: str, method: str) -> None:
    uri = f"/v2/{repository}/manifests/v1"
    refused = MAPS.request(user, method, uri)["$edge_refused"]
    assert refused == ("0" if METHODS[method] in EXPECTED[(user, repository)] else "1")


def test_other_methods_are_refused_to_everyone_but_admins() -> None:
    assert MAPS.request("ci-b", "TRACE", "/v2/team-b/api/manifests/v1")["$edge_refused"] == "1"


@pytest.mark.parametrize(
    ("user", "source", "refused"),
    [
        ("ci-a", "team-b%2Fapi", "0"),  # pull on the source, push on the target
        ("ci-a", "team-b/api", "0"),
        ("ci-a", "team-b%2fapi", "0"),
        ("ci-b", "team-a%2Fapi", "1"),  # push on team-b, no pull on team-a: the mount is refused whole
        ("ci-b", "team-a%2fapi", "1"),
        ("ci-b", "team%2Da%2Fapi", "1"),  # other encodings never match a grant
        ("ci-b", "team-b%2F..%2Fteam-a%2Fapi", "1"),
        ("ci-b", "", "0"),  # no source: an ordinary upload
    ],
)
def test_a_mount_needs_pull_on_its_source(user: str, source: str, refused: str) -> None:
    target = "team-a/new" if user == "ci-a" else "team-b/new"
    query = f"?mount={BLOB}&from={source}" if source else ""
    assert MAPS.request(user, "POST", f"/v2/{target}/blobs/uploads/{query}")["$edge_refused"] == refused


def test_the_first_from_is_the_one_checked_as_go_reads_it() -> None:
    mount = f"/v2/team-b/new/blobs/uploads/?from=team-a%2Fapi&mount={BLOB}&from=team-b%2Fapi"
    assert MAPS.request("ci-b", "POST", mount)["$edge_refused"] == "1"


def test_the_catalog_is_listed_only_by_users_who_may_pull_everything() -> None:
    assert catalog_users(settings().edge_grants) == ["admin", "dev"]
    allowed = {u: MAPS.request(u, "GET", "/v2/_catalog")["$edge_refused"] for u in ("admin", "dev", "ci-a", "janitor")}
    assert allowed == {"admin": "0", "dev": "0", "ci-a": "1", "janitor": "1"}


def test_the_base_route_answers_every_authenticated_user() -> None:
    assert MAPS.request("janitor", "GET", "/v2/")["$edge_refused"] == "0"


def test_a_form_body_is_refused_because_the_edge_cannot_read_it() -> None:
    form = MAPS.request("ci-b", "POST", "/v2/team-b/x/blobs/uploads/", "application/x-www-form-urlencoded; charset=x")
    assert form["$edge_form_body"] == "1"
    assert MAPS.request("ci-b", "PUT", "/v2/team-b/x/manifests/v1", "application/json")["$edge_form_body"] == "0"


@pytest.mark.parametrize(
    ("user", "uri", "method", "words"),
    [
        ("ci-b", "/v2/team-a/api/manifests/v1", "PUT", ("ci-b may not push team-a/api", '"Action":"push"')),
        (
            "janitor",
            "/v2/team-b/api/manifests/v1",
            "DELETE",
            ("janitor may not delete team-b/api", '"Name":"team-b/api"'),
        ),
        ("ci-b", f"/v2/team-b/x/blobs/uploads/?from=team-a%2Fapi&mount={BLOB}", "POST", ("may not pull team-a%2Fapi",)),
        ("ci-a", "/v2/_catalog", "GET", ("ci-a may not list the catalog", '"Name":"catalog"')),
    ],
)
def test_a_denial_names_the_user_the_action_and_the_repository(
    user: str, uri: str, method: str, words: tuple[str, ...]
) -> None:
    known = {"$remote_user": user, "$request_method": method, "$request_uri": uri}
    denial = MAPS.value("$edge_denial", known)
    denial = re.sub(r"\$(\w+)", lambda m: MAPS._get("$" + m.group(1), known), denial)
    for word in words:
        assert word in denial


@pytest.mark.parametrize(
    ("pattern", "encoded", "name", "hit"),
    [
        ("*", False, "a/b", True),
        ("team-a/*", False, "team-a/x/y", True),
        ("team-a/*", False, "team-ab/x", False),
        ("platform/base", False, "platform/base", True),
        ("platform/base", False, "platform/base-2", False),
        ("team-a/*", True, "team-a%2Fx", True),
        ("team-a/*", True, "team-a%2Fx%2Fy", True),
        ("platform/base", True, "platform%2fbase", True),
        ("platform/base", True, "platform%2Fbase%2F..", False),
    ],
)
def test_a_pattern_becomes_a_regex_of_the_same_repositories(pattern: str, encoded: bool, name: str, hit: bool) -> None:
    assert bool(re.match(repository_regex(pattern, encoded=encoded), name)) is hit
