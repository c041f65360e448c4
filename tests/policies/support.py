"""Build CrossGuard args from plain dicts and run one policy of the pack by name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _NotApplicableError

from policies.registry_policies import POLICIES

NOT_APPLICABLE = None
Outcome = list[str] | None  # the messages reported, or None when the policy declared itself not applicable


def options(parent: str | None = None) -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], parent)


def provider(type_: str = "pulumi:providers:aws", props: Mapping[str, Any] | None = None) -> PolicyProviderResource:
    return PolicyProviderResource(type_, props or {}, f"urn:pulumi:test::p::{type_}::default", "default")


def resource_args(
    type_: str,
    props: Mapping[str, Any],
    *,
    name: str = "subject",
    config: Mapping[str, Any] | None = None,
    provider: PolicyProviderResource | None = None,
    stack_tags: Mapping[str, str] | None = None,
) -> ResourceValidationArgs:
    return ResourceValidationArgs(
        type_, props, f"urn:pulumi:test::p::{type_}::{name}", name, options(), provider, config, stack_tags
    )


def resource(
    type_: str,
    props: Mapping[str, Any],
    *,
    name: str,
    dependencies: Sequence[PolicyResource] = (),
    provider: PolicyProviderResource | None = None,
) -> PolicyResource:
    urn = f"urn:pulumi:test::p::{type_}::{name}"
    return PolicyResource(type_, props, urn, name, options(), provider, None, list(dependencies), {})


def stack_args(
    resources: Sequence[PolicyResource],
    *,
    config: Mapping[str, Any] | None = None,
    stack_tags: Mapping[str, str] | None = None,
) -> StackValidationArgs:
    return StackValidationArgs(list(resources), config, stack_tags)


def run(policy_name: str, args: ResourceValidationArgs | StackValidationArgs) -> Outcome:
    """What the named policy reports for `args` (resource or stack), as the analyzer would call it."""
    [policy] = [p for p in POLICIES if p.name == policy_name]
    messages: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        messages.append(message)

    try:
        if isinstance(policy, ResourceValidationPolicy):
            assert isinstance(args, ResourceValidationArgs)
            policy.validate(args, report)
        else:
            assert isinstance(policy, StackValidationPolicy) and isinstance(args, StackValidationArgs)
            policy.validate(args, report)
    except _NotApplicableError:
        return NOT_APPLICABLE
    return messages
