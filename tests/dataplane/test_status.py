"""tools.status on a real sandbox: the screen's figures follow what the registry did."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from testbench.sandbox import Sandbox
from tests.conftest import ROOT
from tests.dataplane.helpers import edge_client, maintenance
from tools.oci_image import build_image
from tools.verify import pull_image, push_image

pytestmark = pytest.mark.dataplane


def status(line: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tools.status", "--sandbox", str(line), "--sample", "1"]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def test_the_screen_shows_instances_traffic_cache_store_and_the_last_maintenance(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    line = tmp_path / "sandbox.json"
    line.write_text(json.dumps(sandbox.summary()))
    image = build_image([3000, 5000])
    with edge_client(sandbox, sandbox.user("push")) as client:
        push_image(client, "status/app", "v1", image)
        for _ in range(3):
            pull_image(client, "status/app", "v1", image)
    assert maintenance("gc", "--sandbox", str(line)).returncode == 0
    done = status(line)
    assert done.returncode == 0, done.stderr
    screen = done.stdout
    replicas = len(sandbox.registry_urls)
    assert f"instances       {replicas} of {replicas} registries answer" in screen
    assert re.search(r"edge +\d+\.\d requests/s, \d+ connections open", screen), screen
    assert re.search(r"errors +\d+\.\d % 5xx of [\d,]+ registry requests", screen), screen
    hits = re.search(r"cache +(\d+\.\d) % hits of ([\d,]+) lookups", screen)
    assert hits and float(hits.group(1)) > 0, screen  # the repeated pulls hit the cache
    store = re.search(r"store +([\d,]+) blobs, .*; ([\d,]+) tags in ([\d,]+) repositories", screen)
    assert store and int(store.group(2).replace(",", "")) >= 1, screen
    assert re.search(r"last gc +\d{4}-\d\d-\d\dT[\d:]+Z: freed \d+ of \d+ blobs", screen), screen
    assert "  last backup     never" in screen  # this sandbox never ran one
    print(screen)  # the README's screen comes from this run


def test_without_an_admin_password_status_says_how_to_give_one(sandbox: Sandbox, tmp_path: Path) -> None:
    summary = sandbox.summary()
    summary["users"] = [u for u in summary["users"] if u["access"] != "admin"]
    line = tmp_path / "no-admin.json"
    line.write_text(json.dumps(summary))
    done = status(line)
    assert done.returncode == 1 and "REGISTRY_USERNAME and REGISTRY_PASSWORD" in done.stderr
