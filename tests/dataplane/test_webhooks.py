"""registry:notifications through the real processes: distribution posts each push and delete to
an HTTPS receiver, naming repository, tag, digest and the user; a receiver that is slow or down
never holds a push back, and what queued while it was down arrives once it is back."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from components.config.notifications import Notification
from components.renderers.distribution import REGISTRY_ENVIRONMENT, notification_header_environment
from testbench.sandbox import LOOPBACK, Sandbox, free_port, http_status, local_settings
from testbench.webhooks import EVENTS_TYPE, Receiver
from tests.dataplane.helpers import edge_client
from tools.oci_image import MANIFEST_TYPE, build_image
from tools.verify import push_image

pytestmark = pytest.mark.dataplane

TOKEN = "Bearer s3cret-for-the-receiver"


@pytest.fixture(scope="module")
def hook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    with Receiver(tmp_path_factory.mktemp("webhook")) as receiver:
        yield receiver


@pytest.fixture(scope="module")
def box(hook: Receiver, registry_version: str) -> Iterator[Sandbox]:
    """Two registries posting to the receiver: push and delete events, quick retries."""
    endpoint = Notification(
        name="ci", url=hook.url, headers={"Authorization": TOKEN}, threshold=1, backoff=1, timeout=2
    )
    settings = local_settings(replicas=2, version=registry_version).model_copy(update={"notifications": [endpoint]})
    with Sandbox(settings, registry_environment={"SSL_CERT_FILE": str(hook.ca_file)}) as running:
        yield running


def pushed(repository: str, tag: str) -> Any:
    return lambda e: e["action"] == "push" and e["target"]["repository"] == repository and e["target"].get("tag") == tag


def test_a_push_and_a_delete_reach_the_receiver_naming_repository_tag_digest_and_user(
    box: Sandbox, hook: Receiver
) -> None:
    image = build_image([4096])
    pusher, admin = box.user("push"), box.user("admin")
    with edge_client(box, pusher) as client:
        push_image(client, "hooks/app", "v1", image)
        assert client.get("/v2/hooks/app/manifests/v1", headers={"Accept": MANIFEST_TYPE}).status_code == 200
    event, *again = hook.wait_for(pushed("hooks/app", "v1"))
    assert all(e["id"] == event["id"] for e in again)  # at least once: a retry repeats the same event
    assert event["target"]["digest"] == image.manifest_digest
    assert event["target"]["mediaType"] == MANIFEST_TYPE
    assert event["target"]["size"] == len(image.manifest)
    assert event["actor"]["name"] == pusher.name
    assert event["request"]["addr"].startswith(LOOPBACK)
    assert hook.headers[-1]["authorization"] == TOKEN
    assert hook.headers[-1]["content-type"] == EVENTS_TYPE
    with edge_client(box, admin) as client:
        assert client.delete(f"/v2/hooks/app/manifests/{image.manifest_digest}").status_code == 202
    deleted, *_ = hook.wait_for(lambda e: e["action"] == "delete" and e["target"]["repository"] == "hooks/app")
    assert (deleted["target"]["digest"], deleted["actor"]["name"]) == (image.manifest_digest, admin.name)
    # only manifests, and no pulls (events: push, delete): no blob event, no pull event arrived
    assert not [e for e in hook.events if e["target"].get("mediaType") == "application/octet-stream"]
    assert not [e for e in hook.events if e["action"] == "pull"]


def test_a_held_receiver_never_holds_a_push_back(box: Sandbox, hook: Receiver) -> None:
    hook.held.set()
    try:
        with edge_client(box, box.user("push")) as client:
            push_image(client, "hooks/slow", "v1", build_image([1024]))
            hook.waiting.wait(timeout=30)
            assert hook.waiting.is_set(), "the registry never posted the event"
            push_image(client, "hooks/slow", "v2", build_image([1024]))  # while the first answer is held
    finally:
        hook.held.clear()
    hook.wait_for(pushed("hooks/slow", "v1"))
    hook.wait_for(pushed("hooks/slow", "v2"))


def test_events_queued_while_the_receiver_is_down_arrive_once_it_is_back(box: Sandbox, hook: Receiver) -> None:
    hook.stop()
    try:
        with edge_client(box, box.user("push")) as client:
            push_image(client, "hooks/down", "v1", build_image([1024]))  # succeeds: nothing waits for the hook
        assert not [e for e in hook.events if e["target"]["repository"] == "hooks/down"]
    finally:
        hook.start()
    hook.wait_for(pushed("hooks/down", "v1"), timeout=60)


def test_a_header_from_the_environment_as_aws_sends_it(box: Sandbox, hook: Receiver, tmp_path: Path) -> None:
    """aws keeps secret headers out of config.yml: notification_header_environment sets them."""
    endpoint = box.settings.notifications[0]
    config = yaml.safe_load((box.dir / "registry-0.yml").read_text())
    del config["notifications"]["endpoints"][0]["headers"]
    port = free_port()
    config["http"]["addr"] = f"{LOOPBACK}:{port}"
    config["http"].pop("debug")  # registry-0's metrics listener is taken
    path = box.dir / f"registry-env-headers-{port}.yml"
    path.write_text(yaml.safe_dump(config))
    environment = {
        **REGISTRY_ENVIRONMENT,
        **notification_header_environment([endpoint]),
        "SSL_CERT_FILE": str(hook.ca_file),
    }
    url = f"http://{LOOPBACK}:{port}"
    box.spawn(  # through a shell, as the aws task starts it (start_script): the variable must survive it
        f"registry-env-headers-{port}",
        ["/bin/sh", "-c", f"exec {box.registry_binary} serve {path}"],
        environment,
        ready=lambda: http_status(f"{url}/v2/") == 200,
    )
    with httpx.Client(base_url=url, timeout=30) as client:
        push_image(client, "hooks/env", "v1", build_image([512]))
    hook.wait_for(pushed("hooks/env", "v1"))
    index = next(i for i, e in enumerate(hook.events) if pushed("hooks/env", "v1")(e))
    assert any(h.get("authorization") == TOKEN for h in hook.headers), index
    assert TOKEN not in path.read_text() and TOKEN not in json.dumps(os.environ.copy())


def test_pull_events_when_asked_for(registry_version: str, hook: Receiver) -> None:
    endpoint = Notification(name="pulls", url=hook.url, events=["pull"], threshold=1, backoff=1)
    settings = local_settings(replicas=1, version=registry_version).model_copy(update={"notifications": [endpoint]})
    with Sandbox(settings, registry_environment={"SSL_CERT_FILE": str(hook.ca_file)}) as running:
        image = build_image([256])
        with edge_client(running, running.user("push")) as client:
            push_image(client, "hooks/pulled", "v1", image)
            assert client.get("/v2/hooks/pulled/manifests/v1", headers={"Accept": MANIFEST_TYPE}).status_code == 200
        hook.wait_for(lambda e: e["action"] == "pull" and e["target"]["repository"] == "hooks/pulled")
        threading.Event().wait(2)  # the push was posted before the pull, had it been sent
        assert not [e for e in hook.events if e["action"] == "push" and e["target"]["repository"] == "hooks/pulled"]
