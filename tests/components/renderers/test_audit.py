"""The audit line: its fields one by one, valid JSON whatever a client sends, and no secret in it."""

from __future__ import annotations

import json
import re

import pytest

from components.renderers.audit import audit_log_format, audit_maps
from tests.components.renderers.test_nginx import render

SAMPLE = {
    "$time_iso8601": "2026-12-07T14:00:00+00:00",
    "$remote_user": 'ev"il\\user',  # escape=json: nginx writes \" and \\
    "$remote_addr": "203.0.113.7",
    "$request_method": "PUT",
    "$edge_repository": "team-a/api",
    "$audit_reference": "v1",
    "$status": "201",
    "$body_bytes_sent": "0",
    "$request_length": "1234",
    "$request_time": "0.012",
    "$request_id": "5f2b",
    "$http_user_agent": "docker/27",
}


def format_body() -> str:
    match = re.search(r"log_format audit escape=json '(.*)';", audit_log_format())
    assert match, audit_log_format()
    return match.group(1)


def as_logged(body: str) -> str:
    """What nginx writes: each variable JSON-escaped (escape=json), inside the template's quotes."""
    for variable in sorted(SAMPLE, key=len, reverse=True):
        body = body.replace(variable, json.dumps(SAMPLE[variable])[1:-1])
    return body


def test_the_line_is_json_with_exactly_the_audit_fields() -> None:
    line = json.loads(as_logged(format_body()))
    assert line == {
        "time": "2026-12-07T14:00:00+00:00",
        "user": 'ev"il\\user',
        "client": "203.0.113.7",
        "method": "PUT",
        "repository": "team-a/api",
        "reference": "v1",
        "status": 201,
        "bytes": 0,
        "received": 1234,
        "duration": 0.012,
        "request": "5f2b",
        "agent": "docker/27",
    }


def test_nothing_that_could_carry_a_secret_is_logged() -> None:
    variables = set(re.findall(r"\$[a-z0-9_]+", format_body()))
    assert variables == set(SAMPLE)
    forbidden = {"$http_authorization", "$request", "$request_uri", "$args", "$query_string", "$request_body"}
    assert not variables & forbidden
    assert [v for v in variables if v.startswith("$http_")] == ["$http_user_agent"]


def test_the_edge_logs_with_the_audit_format() -> None:
    config = render()
    assert "log_format audit escape=json" in config
    assert re.search(r"^\s*access_log \S+ audit;$", config, re.M)
    assert "map $request_uri $audit_reference" in config


def reference_of(uri: str) -> str:
    """The map as nginx evaluates it: regexes in order, the first match's $1, else ""."""
    for route, value in re.findall(r'"~(.+)" (\S+);', audit_maps()):
        match = re.search(route.replace("(?<", "(?P<"), uri)  # PCRE's named groups in Python's spelling
        if match:
            return substitute(value, match)
    return ""


def substitute(value: str, match: re.Match[str]) -> str:
    """A map value's $1 or $name from the regex's captures."""
    return re.sub(r"\$(\w+)", lambda v: match.group(int(v[1]) if v[1].isdigit() else v[1]), value)


DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("uri", "reference"),
    [
        ("/v2/team-a/api/manifests/v1", "v1"),
        (f"/v2/team-a/api/manifests/{DIGEST}", DIGEST),
        (f"/v2/team-a/api/blobs/{DIGEST}", DIGEST),
        ("/v2/team-a/api/blobs/uploads/", ""),
        ("/v2/team-a/api/blobs/uploads/1f2e?_state=abc", ""),
        (f"/v2/team-a/api/blobs/uploads/1f2e?_state=abc&digest={DIGEST}", DIGEST),
        ("/v2/team-a/api/blobs/uploads/1f2e?_state=abc&digest=" + DIGEST.replace(":", "%3A"), DIGEST),
        (f"/v2/team-a/api/blobs/uploads/?mount={DIGEST}&from=team-b/base", ""),
        ("/v2/team-a/api/tags/list?n=10", ""),
        ("/v2/", ""),
        ("/v2/_catalog", ""),
    ],
)
def test_the_reference_is_the_tag_or_digest_a_request_names(uri: str, reference: str) -> None:
    assert reference_of(uri) == reference
