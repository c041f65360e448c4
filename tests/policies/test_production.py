"""How the pack decides a stack is production: from what the CLI gives every policy pack process."""

from __future__ import annotations

import json

import pytest

from policies.registry_policies.production import is_production

AUTO = {"production": "auto", "productionStackPattern": r"^prod(uction)?([-_.].*)?$"}


def env(stack: str, **config: str) -> dict[str, str]:
    return {"PULUMI_STACK": stack, "PULUMI_PROJECT": "registry", "PULUMI_CONFIG": json.dumps(config)}


@pytest.mark.parametrize("stack", ["prod", "production", "prod-eu", "prod.us"])
def test_a_production_stack_name_is_production(stack: str) -> None:
    assert is_production(AUTO, {}, env(stack))


@pytest.mark.parametrize("stack", ["dev", "local", "product-demo", "preprod"])
def test_other_names_are_not(stack: str) -> None:
    assert not is_production(AUTO, {}, env(stack))


def test_the_projects_production_config_key_or_an_environment_tag_makes_any_stack_production() -> None:
    assert is_production(AUTO, {}, env("live", **{"registry:production": "true"}))
    assert not is_production(AUTO, {}, env("live", **{"registry:production": "false", "other:production": "true"}))
    assert is_production(AUTO, {"environment": "Production"}, env("live"))


def test_the_policy_config_overrides_every_signal() -> None:
    assert not is_production({**AUTO, "production": "never"}, {"environment": "prod"}, env("prod"))
    assert is_production({**AUTO, "production": "always"}, {}, env("dev"))
    assert not is_production(AUTO, {}, {})  # outside the CLI nothing says production
