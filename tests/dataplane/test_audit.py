"""The edge's audit trail on a real nginx: one JSON line per request, field by field, and no password."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from testbench.sandbox import Sandbox, SandboxUser
from tests.dataplane.helpers import edge_client
from tools.oci_image import MANIFEST_TYPE, build_image
from tools.verify import push_image

pytestmark = pytest.mark.dataplane

REPOSITORY = "audit/trail"


def audit_lines(sandbox: Sandbox, repository: str | None = None) -> list[dict[str, Any]]:
    text = (sandbox.dir / "logs" / "edge-access.log").read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [line for line in lines if repository is None or line["repository"] == repository]


def test_each_request_is_one_json_line_naming_who_what_and_how_it_ended(
    sandbox: Sandbox, pusher: SandboxUser, admin: SandboxUser, reader: SandboxUser
) -> None:
    image = build_image([2048])
    with edge_client(sandbox, pusher) as client:
        push_image(client, REPOSITORY, "v1", image)
    with edge_client(sandbox, reader) as client:
        assert client.get(f"/v2/{REPOSITORY}/blobs/{image.layers[0].digest}").status_code == 200
        assert client.delete(f"/v2/{REPOSITORY}/manifests/{image.manifest_digest}").status_code == 403
    with edge_client(sandbox, admin) as client:
        assert client.delete(f"/v2/{REPOSITORY}/manifests/{image.manifest_digest}").status_code == 202
    time.sleep(0.2)
    lines = audit_lines(sandbox, REPOSITORY)
    put = next(line for line in lines if line["method"] == "PUT" and line["reference"] == "v1")
    assert put | {"time": "", "duration": 0, "request": "", "received": 0, "agent": ""} == {
        "time": "",
        "user": pusher.name,
        "client": "127.0.0.1",
        "method": "PUT",
        "repository": REPOSITORY,
        "reference": "v1",
        "status": 201,
        "bytes": 0,
        "received": 0,
        "duration": 0,
        "request": "",
        "agent": "",
    }
    assert put["received"] >= len(image.manifest) and put["duration"] >= 0 and len(put["request"]) == 32
    assert put["time"].startswith(time.strftime("%Y-", time.gmtime()))
    pulled = next(line for line in lines if line["method"] == "GET" and line["user"] == reader.name)
    assert (pulled["reference"], pulled["status"], pulled["bytes"]) == (
        image.layers[0].digest,
        200,
        image.layers[0].size,
    )
    denied, deleted = (
        next(line for line in lines if line["method"] == "DELETE" and line["user"] == who.name)
        for who in (reader, admin)
    )
    assert (denied["status"], denied["reference"]) == (403, image.manifest_digest)
    assert (deleted["status"], deleted["reference"]) == (202, image.manifest_digest)
    closing = [line for line in lines if line["method"] == "PUT" and line["reference"].startswith("sha256:")]
    assert {line["reference"] for line in closing} >= {b.digest for b in image.blobs}


def test_failed_logins_name_the_user_tried_and_never_a_password(sandbox: Sandbox, pusher: SandboxUser) -> None:
    wrong = f"{pusher.password}-not-it"
    with httpx.Client(base_url=sandbox.url, verify=False, auth=(pusher.name, wrong), timeout=30) as client:
        assert client.get("/v2/").status_code == 401
    with httpx.Client(base_url=sandbox.url, verify=False, auth=('ev"il\\user,{}', "p"), timeout=30) as client:
        assert client.get("/v2/").status_code == 401
    with edge_client(sandbox, pusher) as client:
        assert client.get(f"/v2/{REPOSITORY}/manifests/v1", headers={"Accept": MANIFEST_TYPE}).status_code in (200, 404)
    time.sleep(0.2)
    text = (sandbox.dir / "logs" / "edge-access.log").read_text()
    assert wrong not in text and pusher.password not in text
    failures = [line for line in audit_lines(sandbox) if line["status"] == 401 and line["method"] == "GET"]
    assert any(line["user"] == pusher.name for line in failures)
    assert any(line["user"] == 'ev"il\\user,{}' for line in failures)  # escaped: still one JSON value
