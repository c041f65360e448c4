"""Distinct intents never share a URN. The harness fails a program that registers one URN twice, as
`pulumi up` does; here each case that once collided runs the whole program: either the config is
refused naming both keys, or every resource gets its own URN."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT, refused_run
from tools.mock_program import run_program
from tools.stack_config import load_project, load_stack_config

SP = "servicePrincipal:3f2b8c41-9d6e-4a57-b0c3-7e1f5a9d2c68"


def config(stack: str, **changes: object) -> dict[str, str]:
    raw, _ = load_stack_config(load_project(ROOT), stack)
    return {**raw, **{f"registry:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in changes.items()}}


@pytest.mark.parametrize(
    ("stack", "changes", "names"),
    [
        pytest.param(
            "ecr",
            {"repositories": [{"name": "team-a/api"}, {"name": "team-a-api"}], "access": [], "signing": {}},
            ("registry:repositories[1].name", "team-a/api"),
            id="ecr-slash-and-dash",
        ),
        pytest.param(
            "gar",
            {"repositories": [{"name": "team/x"}, {"name": "team-all/y"}], "access": [], "signing": {}},
            ("registry:repositories[1].name", "team/..."),
            id="gar-group-named-like-a-virtual-repository",
        ),
        pytest.param(
            "gar",
            {"mirrors": [{"name": "team-a-all", "upstream": "ghcr.io"}]},
            ("registry:mirrors[0].name", "team-a/..."),
            id="gar-mirror-named-like-a-virtual-repository",
        ),
    ],
)
def test_names_that_would_collide_are_refused_naming_both(
    stack: str, changes: dict[str, object], names: tuple[str, ...]
) -> None:
    message, declared = refused_run(stack, config(stack, **changes))
    assert all(name in message for name in names), message
    assert [r for r in declared if not r.type.startswith("pulumi:providers:")] == []


@pytest.mark.parametrize(
    ("stack", "changes"),
    [
        pytest.param(
            "gar",
            {
                "access": [
                    {"repositories": ["*"], "pull": ["group:Team@example.com", "group:team@example.com"]},
                    {"repositories": ["team-a/*"], "push": ["serviceAccount:ci@p.iam.gserviceaccount.com"]},
                ]
            },
            id="gar-members-differing-by-case",
        ),
        pytest.param(
            "gar",
            {
                "access": [
                    {"repositories": ["*"], "pull": ["user:a.b@example.com", "user:a-b@example.com"]},
                    {"repositories": ["team-a/*"], "push": ["serviceAccount:ci@p.iam.gserviceaccount.com"]},
                ]
            },
            id="gar-members-differing-by-a-dropped-character",
        ),
        pytest.param(
            "gar",
            {
                "access": [
                    {"repositories": ["*"], "pull": ["group:x@example.com"]},
                    {"repositories": ["team-a/*"], "push": ["group:x@example.com"]},
                ]
            },
            id="gar-one-member-reader-and-writer",
        ),
        pytest.param(
            "acr",
            {
                "access": [
                    {"repositories": ["*"], "push": [SP], "pull": ["group:3f2b8c41-0000-4000-8000-000000000001"]},
                    {"repositories": ["*"], "pull": ["user:3f2b8c41-0000-4000-8000-000000000002"]},
                ]
            },
            id="acr-principals-sharing-an-object-id-prefix",
        ),
        pytest.param(
            "acr",
            {"mirrors": [{"name": "ci-team-b", "upstream": "ghcr.io"}, {"name": "delete-lock", "upstream": "quay.io"}]},
            id="acr-mirrors-named-like-a-token-and-the-lock",
        ),
    ],
)
def test_distinct_intents_get_distinct_urns(stack: str, changes: dict[str, object]) -> None:
    run = run_program(ROOT, stack, config=config(stack, **changes))  # fails on a duplicate URN
    assert len({r.urn for r in run.resources}) == len(run.resources) > 1
