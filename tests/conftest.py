"""Shared fixtures: the project root and a runner for the program under the recording mocks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tools.mock_program import ProgramRun, run_program

ROOT = Path(__file__).resolve().parents[1]

RunStack = Callable[..., ProgramRun]


@pytest.fixture
def run_stack() -> RunStack:
    """`run_stack("local", overrides={"registry:replicas": "5"})` runs __main__.py under mocks."""

    def run(stack: str, **kwargs: Any) -> ProgramRun:
        return run_program(ROOT, stack, **kwargs)

    return run
