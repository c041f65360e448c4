"""Moving code never moves a resource: every shipped stack's URNs equal the recorded list.

A URN is built from the type token, the name and the parents' types. A renamed token or child
name makes `pulumi up` delete and recreate the resource (a bucket, a cache, a repository full of
images). Keep tokens and names when moving files, or add `pulumi.Alias` for the old ones. When a
change adds or removes resources on purpose, record the new lists:

    .venv/bin/python -m tests.components.test_urns
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT
from tools.mock_program import run_program
from tools.stack_config import load_project

RECORDED = Path(__file__).parent / "urns"


def urns(stack: str) -> list[str]:
    return sorted(r.urn for r in run_program(ROOT, stack).resources)


@pytest.mark.parametrize("stack", load_project(ROOT).stacks())
def test_every_urn_of_the_stack_is_the_recorded_one(stack: str) -> None:
    recorded = (RECORDED / f"{stack}.txt").read_text().split()
    current = urns(stack)
    removed = sorted(set(recorded) - set(current))
    added = sorted(set(current) - set(recorded))
    assert removed == [], f"pulumi up would delete (or replace) these resources of {stack}: {removed}"
    assert added == [], f"new resources in {stack}: record them if intended (see this module's docstring): {added}"


if __name__ == "__main__":
    for name in load_project(ROOT).stacks():
        (RECORDED / f"{name}.txt").write_text("\n".join(urns(name)) + "\n")
        print(f"recorded {name}")
