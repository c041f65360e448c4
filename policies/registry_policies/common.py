"""What every service module builds on: policy factories, config defaults, property helpers.

Props reach a policy with engine (camelCase) names, numbers as floats, JSON documents as
strings, and wrapped in read-only proxies (Mapping/Sequence, not dict/list) that raise
`UnknownValueError` on values a preview cannot know yet. Helpers here accept both the
proxies and plain values, so tests can build args from plain dicts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from .production import PRODUCTION_PARAMS, is_production

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY

Config = Mapping[str, Any]
Params = Mapping[str, Mapping[str, Any]]  # JSON schema per config property, each with a "default"
ResourceCheck = Callable[[ResourceValidationArgs, Config], Iterable[str]]
# a stack check yields (message, offending resource or None for the stack as a whole)
StackCheck = Callable[[StackValidationArgs, Config], Iterable[tuple[str, PolicyResource | None]]]


def resource_policy(
    *,
    name: str,
    description: str,
    types: Collection[str],
    check: ResourceCheck,
    level: EnforcementLevel,
    params: Params | None = None,
    production_only: bool = False,
) -> ResourceValidationPolicy:
    """A policy that runs `check` on each resource of `types` and reports every message it yields."""
    schema = _schema(params, production_only)

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in types:
            return
        config = with_defaults(schema, args.get_config())
        if production_only and not is_production(config, args.stack_tags):
            args.not_applicable("not a production stack")
        for message in check(args, config):
            report(message, None)

    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=level,
        config_schema=PolicyConfigSchema(dict(schema)) if schema else None,
    )


def stack_policy(
    *,
    name: str,
    description: str,
    check: StackCheck,
    level: EnforcementLevel,
    params: Params | None = None,
    production_only: bool = False,
) -> StackValidationPolicy:
    """A policy over all resources; each message is reported against the resource it names."""
    schema = _schema(params, production_only)

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        config = with_defaults(schema, args.get_config())
        if production_only and not is_production(config, args.stack_tags):
            args.not_applicable("not a production stack")
        for message, resource in check(args, config):
            report(message, resource.urn if resource is not None else None)

    return StackValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=level,
        config_schema=PolicyConfigSchema(dict(schema)) if schema else None,
    )


def _schema(params: Params | None, production_only: bool) -> dict[str, dict[str, Any]]:
    merged = {**(params or {}), **(PRODUCTION_PARAMS if production_only else {})}
    return {key: dict(value) for key, value in merged.items()}


def with_defaults(schema: Params, config: Config) -> dict[str, Any]:
    """The CLI fills schema defaults before Configure; direct calls (tests) get the same view."""
    return {**{k: v["default"] for k, v in schema.items() if "default" in v}, **config}


# ---------------------------------------------------------------- reading props


def as_list(value: Any) -> list[Any]:
    """A list for a Sequence (or its proxy); [] for None; a lone string becomes [string]."""
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Sequence):
        return [value]
    return list(value)


def as_mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def json_document(value: Any) -> Any:
    """A JSON document given as a string (containerDefinitions, IAM policies) or as data; None if unparsable."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def prop_value(resource: PolicyResource, key: str) -> Any:
    """`resource.props[key]`, or None when absent or unknown during a preview."""
    try:
        return resource.props.get(key)
    except UnknownValueError:
        return None


def _strings(value: Any) -> set[str]:
    return {v for v in as_list(value) if isinstance(v, str) and v}


def of_types(resources: Iterable[PolicyResource], types: Collection[str]) -> list[PolicyResource]:
    return [r for r in resources if r.resource_type in types]


def linked(
    source: PolicyResource, prop: str, targets: Iterable[PolicyResource], target_props: Sequence[str]
) -> list[PolicyResource]:
    """The `targets` that `source.props[prop]` points at.

    The engine records which resources fed each property (known even in a preview). Without
    that record (the offline check has none), compare the property with the targets'
    `target_props` values (bucket names, ids, ARNs), and failing that use `dependencies`.
    """
    candidates = list(targets)
    by_property = [t for t in source.property_dependencies.get(prop, []) if t in candidates]
    if by_property:
        return by_property
    values = _strings(prop_value(source, prop))
    by_value = [t for t in candidates if values & {v for k in target_props for v in _strings(prop_value(t, k))}]
    if by_value:
        return by_value
    if not source.property_dependencies:
        return [t for t in source.dependencies if t in candidates]
    return []


def label(resource: PolicyResource) -> str:
    """How messages name a resource: its Pulumi name and short type."""
    return f"{resource.name} ({resource.resource_type.split(':')[-1]})"
