"""`make up` checks before it creates anything: a Docker engine first, then the Pulumi CLI
(downloaded to a file and run, never piped into a shell), and only then the state folder."""

from __future__ import annotations

import shutil
import stat
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.conftest import ROOT


def shim(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def sandbox_env(tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    """PATH with only the tools make needs (and shims added per test), HOME and state in tmp."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("make", "sh", "bash", "env", "head", "base64", "mkdir", "chmod", "test", "cat", "rm"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path / "home"), "LANG": "C"}
    return env, bin_dir, tmp_path / "state"


def make_up(env: dict[str, str], state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", "up", f"STATE={state}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_without_docker_it_stops_first_and_creates_no_state(sandbox_env: tuple[dict[str, str], Path, Path]) -> None:
    env, _, state = sandbox_env
    done = make_up(env, state)
    assert done.returncode != 0
    assert "no docker command: install Docker" in done.stderr
    assert not state.exists()


def test_a_docker_engine_that_does_not_answer_is_named(sandbox_env: tuple[dict[str, str], Path, Path]) -> None:
    env, bin_dir, state = sandbox_env
    shim(bin_dir, "docker", "exit 1")
    done = make_up(env, state)
    assert done.returncode != 0 and "no Docker engine answers" in done.stderr
    assert not state.exists()


def test_a_failed_cli_download_fails_loudly_and_creates_no_state(
    sandbox_env: tuple[dict[str, str], Path, Path],
) -> None:
    env, bin_dir, state = sandbox_env
    shim(bin_dir, "docker", "exit 0")
    shim(bin_dir, "curl", 'echo "curl: (6) Could not resolve host: get.pulumi.com" >&2; exit 6')
    done = make_up(env, state)
    assert done.returncode != 0
    assert "could not install the Pulumi CLI" in done.stderr and "Could not resolve host" in done.stderr
    assert not state.exists()


def test_the_installer_is_saved_to_a_file_then_run_for_the_sdks_version(
    sandbox_env: tuple[dict[str, str], Path, Path], tmp_path: Path
) -> None:
    env, bin_dir, state = sandbox_env
    log = tmp_path / "calls.log"
    shim(bin_dir, "docker", "exit 0")
    # curl writes a fake installer where -o says; the installer records how it was run and installs nothing
    shim(
        bin_dir,
        "curl",
        f'echo "curl $*" >> {log}; while [ "$1" != -o ]; do shift; done; '
        f'printf \'echo "installer $*" >> {log}\\n\' > "$2"',
    )
    done = make_up(env, state)
    assert done.returncode != 0 and "could not install the Pulumi CLI" in done.stderr
    calls = log.read_text().splitlines()
    assert calls[0].startswith("curl -fsSL --retry 3 -o .venv/pulumi-install.sh https://get.pulumi.com/")
    assert calls[1] == f"installer --version {version('pulumi')} --no-edit-path"
    assert not state.exists()


def test_with_everything_in_place_the_state_and_passphrase_are_private(
    sandbox_env: tuple[dict[str, str], Path, Path], tmp_path: Path
) -> None:
    env, bin_dir, state = sandbox_env
    log = tmp_path / "pulumi.log"
    shim(bin_dir, "docker", "exit 0")
    shim(bin_dir, "pulumi", f'echo "pulumi $*" >> {log}')
    done = make_up(env, state)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    passphrase = state / "passphrase"
    assert stat.S_IMODE(passphrase.stat().st_mode) == 0o600 and len(passphrase.read_text().strip()) >= 40
    assert log.read_text().splitlines() == [
        "pulumi stack select local",
        "pulumi up --yes --stack local",
        "pulumi stack output --stack local",
    ]


def test_day_2_targets_run_retention_then_gc_on_the_chosen_stack() -> None:
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "-o", ".venv/.installed", "retention", "gc", "STACK=staging"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.splitlines() == [
        ".venv/bin/python -m tools.maintenance retention --stack staging",
        ".venv/bin/python -m tools.maintenance gc --stack staging",
    ]


def test_backup_needs_a_destination_and_status_reads_the_chosen_stack() -> None:
    def dry(*targets: str) -> subprocess.CompletedProcess[str]:
        command = ["make", "--no-print-directory", "-n", "-o", ".venv/.installed", *targets, "STACK=staging"]
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)

    assert dry("backup", "TO=s3://b/p").stdout.splitlines()[-1] == (
        ".venv/bin/python -m tools.maintenance backup --stack staging --to s3://b/p"
    )
    assert dry("status").stdout.splitlines() == [".venv/bin/python -m tools.status --stack staging"]
    refused = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", "backup", "STACK=staging"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0 and "make backup TO=DIR|s3://BUCKET/PREFIX" in refused.stderr
