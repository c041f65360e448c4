"""Where gc's commands run on each target (the sandbox path runs for real in tests/dataplane/test_gc.py)."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
import yaml

from tools.maintenance import MaintenanceError
from tools.maintenance.alb import AwsSite
from tools.maintenance.site import edge_site, site_of

LOCAL = {
    "target": "local",
    "cacheContainer": "registry-redis",
    "cacheConfig": "/usr/local/etc/redis/redis.conf",
    "edgeContainer": "registry-edge",
    "freezeFlag": "/var/run/registry-maintenance/writes-frozen",
    "registryContainer": "registry-registry-0",
    "registryConfig": "/etc/distribution/config.yml",
    "objectStoreEndpoint": "http://127.0.0.1:8333",
}
CONFIG = {"storage": {"s3": {"bucket": "b", "regionendpoint": "http://object-store:8333", "accesskey": "K"}}}


class Recorder:
    def __init__(self, stdout: str = "", status: int = 0):
        self.commands: list[list[str]] = []
        self.stdout, self.status = stdout, status

    def __call__(self, command: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        self.commands.append(command)
        return subprocess.CompletedProcess(command, self.status, self.stdout, "")


def test_local_edge_commands_run_in_the_edge_container_against_nginx_as_pid_1() -> None:
    runner = Recorder(stdout="29\n30\n")
    site = edge_site(LOCAL, run=runner)
    assert site.edge_workers() == {29, 30}
    site.reload_edge()
    [workers, reload] = runner.commands
    assert workers[:5] == ["docker", "exec", "registry-edge", "sh", "-c"]
    assert '[ "$4" = "1" ]' in workers[5]  # children of PID 1, the nginx master in the image
    assert reload == ["docker", "exec", "registry-edge", "sh", "-c", "kill -HUP 1"]


@pytest.mark.parametrize(("dry_run", "flags"), [(False, []), (True, ["--dry-run"])])
def test_local_gc_runs_the_images_registry_with_its_config_and_never_deletes_untagged(
    dry_run: bool, flags: list[str]
) -> None:
    runner = Recorder()
    site_of(LOCAL, run=runner).garbage_collect(dry_run=dry_run)
    assert runner.commands == [
        ["docker", "exec", "registry-registry-0", "registry", "garbage-collect", "/etc/distribution/config.yml", *flags]
    ]


def test_local_storage_is_read_from_the_registry_config_and_reached_through_the_host_port() -> None:
    runner = Recorder(stdout=yaml.safe_dump(CONFIG))
    s3 = site_of(LOCAL, run=runner).storage()
    assert runner.commands == [["docker", "exec", "registry-registry-0", "cat", "/etc/distribution/config.yml"]]
    assert s3 == {"bucket": "b", "regionendpoint": "http://127.0.0.1:8333", "accesskey": "K"}


def test_a_failed_gc_says_which_command_and_why() -> None:
    with pytest.raises(MaintenanceError, match=r"garbage-collect /etc/distribution/config.yml` failed \(status 1\)"):
        site_of(LOCAL, run=Recorder(stdout="boom", status=1)).garbage_collect(dry_run=False)


def test_aws_reads_the_stacks_bucket_below_its_root_with_the_callers_credentials() -> None:
    aws = {"target": "aws", "region": "eu-west-1", "bucket": "registry-bucket", "rootDirectory": "/registry"}
    site = site_of(aws)
    assert isinstance(site, AwsSite)
    assert site.storage() == {"bucket": "registry-bucket", "region": "eu-west-1", "rootdirectory": "/registry"}
