"""Robot accounts (registry:users[].expiresAt) on a real edge: a login works until its instant and
is refused with 401 and the Basic challenge from then on, for reads and writes alike, while every
other user goes on; a robot that expired before the edge started never gets in."""

from __future__ import annotations

import datetime
import time

import httpx
import pytest

from components.config.base import User
from testbench.sandbox import Sandbox, SandboxUser, local_settings
from tests.dataplane.helpers import edge_client
from tools.oci_image import MANIFEST_TYPE, build_image
from tools.verify import push_image

pytestmark = pytest.mark.dataplane
LIFETIME = datetime.timedelta(seconds=12)  # enough for the sandbox to start and the robot to push once


def named(sandbox: Sandbox, name: str) -> SandboxUser:
    [user] = [u for u in sandbox.users if u.name == name]
    return user


def refused(client: httpx.Client, request: httpx.Request) -> bool:
    answer = client.send(request)
    return answer.status_code == 401 and answer.headers.get("WWW-Authenticate") == 'Basic realm="registry"'


def test_a_robot_login_works_until_its_expiry_and_is_refused_from_then_on() -> None:
    now = datetime.datetime.now(datetime.UTC)
    expires = now + LIFETIME
    settings = local_settings(replicas=1)
    robots = [
        User(name="ci-robot", access="push", expires_at=expires),
        User(name="old-robot", access="push", expires_at=now - datetime.timedelta(days=1)),
    ]
    with Sandbox(settings.model_copy(update={"users": [*settings.users, *robots]})) as sandbox:
        image = build_image([2048])
        with edge_client(sandbox, named(sandbox, "ci-robot")) as robot:
            push_image(robot, "robots/app", "v1", image)  # before its instant: a push user like any other
        with edge_client(sandbox, named(sandbox, "old-robot")) as old:
            assert refused(old, old.build_request("GET", "/v2/"))
        assert datetime.datetime.now(datetime.UTC) < expires, "the sandbox took too long to start: raise LIFETIME"
        time.sleep(max(0.0, (expires - datetime.datetime.now(datetime.UTC)).total_seconds()) + 1.1)
        manifest = f"/v2/robots/app/manifests/{image.manifest_digest}"
        with edge_client(sandbox, named(sandbox, "ci-robot")) as robot:
            assert refused(robot, robot.build_request("GET", "/v2/"))
            assert refused(robot, robot.build_request("GET", manifest, headers={"Accept": MANIFEST_TYPE}))
            assert refused(robot, robot.build_request("POST", "/v2/robots/app/blobs/uploads/"))
        with edge_client(sandbox, sandbox.user("push")) as person:
            assert person.get(manifest, headers={"Accept": MANIFEST_TYPE}).status_code == 200
