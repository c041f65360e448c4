"""Shared fixtures: the project root and a runner for the program under the recording mocks."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import set_mocks

from components.config import ConfigError, load_settings
from tools.mock_program import ProgramRun, RealisticMocks, RecordingMonitor, Registration, run_program

ROOT = Path(__file__).resolve().parents[1]

RunStack = Callable[..., ProgramRun]


@pytest.fixture
def run_stack() -> RunStack:
    """`run_stack("local", overrides={"registry:replicas": "5"})` runs __main__.py under mocks."""

    def run(stack: str, **kwargs: Any) -> ProgramRun:
        return run_program(ROOT, stack, **kwargs)

    return run


def provider_modules_loaded_by(stack: str) -> list[str]:
    """What running the program for `stack` imports, measured in a fresh interpreter."""
    probe = (
        "import json; from tools.mock_program import loaded_provider_modules, run_program;"
        f"run_program('.', {stack!r}); print(json.dumps(loaded_provider_modules()))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    modules: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return modules


def config_problems(raw: Mapping[str, str], secret: frozenset[str] = frozenset()) -> list[str]:
    """The problems `load_settings` reports for a config it refuses (the test fails if it loads)."""
    with pytest.raises(ConfigError) as caught:
        load_settings(raw, secret)
    return caught.value.problems


def refused_run(
    stack: str,
    config: Mapping[str, str],
    calls: Mapping[str, Callable[..., dict[str, Any]]] | None = None,
    secret_keys: list[str] | None = None,
) -> tuple[str, list[Registration]]:
    """Run __main__.py expecting a refusal: its message, and every resource declared before it."""
    monitor = RecordingMonitor(RealisticMocks(calls=calls))
    set_mocks(monitor.mocks, project="registry", stack=stack, monitor=monitor)
    pulumi.runtime.set_all_config(dict(config), secret_keys)
    with pytest.raises(pulumi.RunError) as caught:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
    return str(caught.value), monitor.registrations
