"""registry:notifications: each case changes one thing from a minimal valid config."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.config import ConfigError, load_settings

HOOK = {"name": "ci", "url": "https://hooks.example.com/registry"}


def load(secret: bool = True, target: str = "local", **changes: Any) -> Any:
    raw = {"registry:target": target}
    if target == "ecr":
        raw |= {"registry:repositories": json.dumps([{"name": "team-a/api"}])}
    raw |= {f"registry:{k}": json.dumps(v) for k, v in changes.items()}
    return load_settings(raw, frozenset({"registry:notifications"}) if secret else frozenset())


def problem(secret: bool = True, **changes: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        load(secret, **changes)
    [found] = caught.value.problems
    return found


def test_a_minimal_endpoint_sends_pushes_and_deletes_with_distributions_retry_settings() -> None:
    [hook] = load(notifications=[HOOK]).notifications
    assert (hook.events, hook.repositories, hook.timeout, hook.threshold, hook.backoff) == (
        ["push", "delete"],
        ["*"],
        5,
        5,
        10,
    )
    assert hook.ignored_actions() == ["pull"]


def test_plain_http_is_refused_except_to_loopback() -> None:
    assert "over https" in problem(notifications=[{**HOOK, "url": "http://hooks.example.com/registry"}])
    for loopback in ("http://127.0.0.1:8080/e", "http://localhost:8080/e", "http://[::1]:8080/e"):
        assert load(notifications=[{**HOOK, "url": loopback}]).notifications[0].url == loopback


def test_a_credential_header_must_be_a_pulumi_secret() -> None:
    found = problem(secret=False, notifications=[{**HOOK, "headers": {"Authorization": "Bearer x"}}])
    assert found.startswith("registry:notifications[0].headers.Authorization: a credential must be stored encrypted")
    assert "pulumi config set --secret --path 'registry:notifications[0].headers.Authorization'" in found
    assert load(secret=False, notifications=[{**HOOK, "headers": {"X-Source": "registry"}}])  # not a credential
    assert load(notifications=[{**HOOK, "headers": {"X-Api-Key": "k"}}])  # stored as a secret


@pytest.mark.parametrize("name", ["X_Token", "a b", ""])
def test_header_names_that_distribution_could_not_take_from_the_environment_are_refused(name: str) -> None:
    assert "letters, digits and '-' only" in problem(notifications=[{**HOOK, "headers": {name: "v"}}])


def test_a_header_listed_twice_in_other_cases_is_refused() -> None:
    assert "listed twice" in problem(notifications=[{**HOOK, "headers": {"X-A": "1", "x-a": "2"}}])


def test_repositories_other_than_every_one_are_refused_saying_why() -> None:
    found = problem(notifications=[{**HOOK, "repositories": ["team-a/*"]}])
    assert "cannot filter them" in found and "target.repository" in found


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"events": []}, "at least 1"),
        ({"events": ["push", "push"]}, "listed twice"),
        ({"events": ["mount"]}, "'push', 'pull' or 'delete'"),
        ({"timeout": 0}, "greater than or equal to 1"),
        ({"threshold": 101}, "less than or equal to 100"),
        ({"backoff": 0}, "greater than or equal to 1"),
        ({"name": "CI"}, "should match pattern"),
    ],
)
def test_bounds(change: dict[str, Any], message: str) -> None:
    assert message in problem(notifications=[{**HOOK, **change}])


def test_endpoint_names_are_unique() -> None:
    assert "listed twice" in problem(notifications=[HOOK, {**HOOK, "url": "https://other.example.com/"}])


def test_the_managed_targets_refuse_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        load(target="ecr", notifications=[HOOK])
    assert any("notifications" in p for p in caught.value.problems)
