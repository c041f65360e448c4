"""Azure Container Registry (azure-native): who may sign in and delete, who reaches it, what is kept and locked.

Entra ID role assignments are the way in: the admin user is one shared password and anonymous pull
opens the registry to anyone. Deleting images is granted per registry: a role assignment of a role
that deletes images or overwrites tags at a subscription, resource group or management group scope
reaches every registry there, those of other workloads included.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator

from pulumi_policy import PolicyResource, ResourceValidationArgs, StackValidationArgs

from .common import (
    ADVISORY,
    MANDATORY,
    Config,
    as_list,
    as_mapping,
    label,
    linked,
    of_types,
    prop_value,
    resource_policy,
    stack_policy,
)

REGISTRIES = {"azure-native:containerregistry:Registry"}
TASKS = {"azure-native:containerregistry:Task"}
ROLE_ASSIGNMENTS = {"azure-native:authorization:RoleAssignment"}
GROUPS = {"azure-native:resources:ResourceGroup"}
SCOPE_LOCKS = {"azure-native:authorization:ManagementLockByScope"}
RESOURCE_LOCKS = {"azure-native:authorization:ManagementLockAtResourceLevel"}
GROUP_LOCKS = {"azure-native:authorization:ManagementLockAtResourceGroupLevel"}
LOCK_LEVELS = {"CanNotDelete", "ReadOnly"}
# a step running acr purge: through the Tasks alias `acr`, or the acr-cli image itself (pinned or not)
PURGE_STEP = re.compile(r"(?:\bacr|/acr-cli(?::[\w.-]+)?)\s+purge\b")
REGISTRY_NAMESPACE = "Microsoft.ContainerRegistry"
# built-in roles (by definition GUID) that delete images or move tags, and what they do to every registry in reach
WRITING_ROLES = {
    "c2f4ef07-c644-48eb-af81-4b1b4947fb11": ("AcrDelete", "deletes images"),
    "8311e382-0749-4cb8-b61a-304f252e45ec": ("AcrPush", "pushes over tags"),
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": ("Owner", "deletes images and registries"),
    "b24988ac-6180-42a0-ab88-20f7382dd24c": ("Contributor", "deletes images and registries"),
}
# scopes above any single resource (ARM ids are case-insensitive; matched lowercased)
WIDE_SCOPES = (
    (re.compile(r"/subscriptions/[^/]+/resourcegroups/[^/]+"), "resource group"),
    (re.compile(r"/subscriptions/[^/]+"), "subscription"),
    (re.compile(r"/providers/microsoft\.management/managementgroups/[^/]+"), "management group"),
    (re.compile(r""), "tenant root"),
)


def _admin_user(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if args.props.get("adminUserEnabled") is True:
        yield (
            f"{args.name}: the admin user is one shared password that pushes and deletes everywhere; set "
            "admin_user_enabled False and grant Entra ID role assignments or tokens (registry:access)"
        )


def _anonymous_pull(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if args.props.get("anonymousPullEnabled") is True:
        yield (
            f"{args.name}: anonymous pull lets anyone on the internet read every image; set "
            "anonymous_pull_enabled False and grant pull to named principals (registry:access)"
        )


def _wide_scope(scope: str) -> str | None:
    """What kind of scope above a single resource `scope` is, or None for a resource (a registry) scope."""
    path = scope.lower().rstrip("/")
    return next((kind for pattern, kind in WIDE_SCOPES if pattern.fullmatch(path)), None)


def _no_delete_everywhere(args: StackValidationArgs, _: Config) -> Iterator[tuple[str, PolicyResource | None]]:
    for grant in of_types(args.resources, ROLE_ASSIGNMENTS):
        scope, definition = prop_value(grant, "scope"), prop_value(grant, "roleDefinitionId")
        # an unknown scope (a preview) may well be a registry's id: only known scopes are judged
        if not isinstance(scope, str) or not isinstance(definition, str):
            continue
        role = WRITING_ROLES.get(definition.rstrip("/").rsplit("/", 1)[-1].lower())
        where = _wide_scope(scope)
        if role is not None and where is not None:
            name, does = role
            yield (
                f"{label(grant)} grants {name} on the whole {where} ({scope}), so it {does} in every container "
                "registry there; assign it on the registry that needs it (registry:access)",
                grant,
            )


def _fed_by_same(a: PolicyResource, a_prop: str, b: PolicyResource, b_prop: str, among: list[PolicyResource]) -> bool:
    """Do `a.props[a_prop]` and `b.props[b_prop]` both come from one of `among` (known even in a preview)?"""
    fed = [r for r in b.property_dependencies.get(b_prop, []) if r in among]
    return any(r in fed for r in a.property_dependencies.get(a_prop, []))


def _same_name(a: object, b: object) -> bool:
    return isinstance(a, str) and isinstance(b, str) and a.lower() == b.lower()


def _scope_lock_protects(lock: PolicyResource, registry: PolicyResource, groups: list[PolicyResource]) -> bool:
    """A lock on the registry itself, or on a scope above it (its resource group, subscription)."""
    if registry in linked(lock, "scope", [registry], ["id"]):
        return True
    scope, registry_id = prop_value(lock, "scope"), prop_value(registry, "id")
    if isinstance(scope, str) and isinstance(registry_id, str):
        return registry_id.lower().startswith(scope.lower().rstrip("/") + "/")
    group = prop_value(registry, "resourceGroupName")
    if isinstance(scope, str) and isinstance(group, str):  # the registry's id is unknown in a preview
        return scope.lower().rstrip("/").endswith(f"/resourcegroups/{group.lower()}")
    return _fed_by_same(lock, "scope", registry, "resourceGroupName", groups)


def _protects(lock: PolicyResource, registry: PolicyResource, groups: list[PolicyResource]) -> bool:
    """Locks are inherited: one on the registry, on its resource group or above protects it."""
    if prop_value(lock, "level") not in LOCK_LEVELS:
        return False
    if lock.resource_type in SCOPE_LOCKS:
        return _scope_lock_protects(lock, registry, groups)
    if lock.resource_type in GROUP_LOCKS:
        lock_group, registry_group = prop_value(lock, "resourceGroupName"), prop_value(registry, "resourceGroupName")
        return _same_name(lock_group, registry_group) or _fed_by_same(
            lock, "resourceGroupName", registry, "resourceGroupName", groups
        )
    namespace, kind = prop_value(lock, "resourceProviderNamespace"), prop_value(lock, "resourceType")
    return (
        str(namespace or REGISTRY_NAMESPACE).lower() == REGISTRY_NAMESPACE.lower()
        and str(kind or "registries").lower() == "registries"
        and registry in linked(lock, "resourceName", [registry], ["registryName", "name"])
    )


def _delete_lock(args: StackValidationArgs, _: Config) -> Iterator[tuple[str, PolicyResource | None]]:
    locks = of_types(args.resources, SCOPE_LOCKS | RESOURCE_LOCKS | GROUP_LOCKS)
    groups = of_types(args.resources, GROUPS)
    for registry in of_types(args.resources, REGISTRIES):
        if not any(_protects(lock, registry, groups) for lock in locks):
            yield (
                f"{label(registry)} has no delete lock, so one mistaken delete loses every image; set "
                "registry:production true so the program adds a CanNotDelete lock on it",
                registry,
            )


def _network(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    closed = args.props.get("publicNetworkAccess") == "Disabled"
    if not closed and as_mapping(args.props.get("networkRuleSet")).get("defaultAction") != "Deny":
        yield f"{args.name}: reachable from the whole internet; list your networks in registry:allowedCidrs"


def _purges(task: PolicyResource) -> bool:
    """Does the task run `acr purge` on a timer? Its step is YAML, base64-encoded."""
    step = as_mapping(prop_value(task, "step"))
    try:
        content = base64.b64decode(str(step.get("encodedTaskContent") or ""), validate=True).decode()
    except ValueError:  # binascii.Error and UnicodeDecodeError both are
        return False
    timers = as_list(as_mapping(prop_value(task, "trigger")).get("timerTriggers"))
    timed = any(as_mapping(t).get("status") != "Disabled" for t in timers)
    return bool(PURGE_STEP.search(content)) and timed and prop_value(task, "status") != "Disabled"


def _retention(args: StackValidationArgs, _: Config) -> Iterator[tuple[str, PolicyResource | None]]:
    purging = [t for t in of_types(args.resources, TASKS) if _purges(t)]
    for registry in of_types(args.resources, REGISTRIES):
        retention = as_mapping(as_mapping(prop_value(registry, "policies")).get("retentionPolicy"))
        if retention.get("status") == "enabled":
            continue
        if not any(registry in linked(t, "registryName", [registry], ["registryName", "name"]) for t in purging):
            yield (
                f"{label(registry)} keeps untagged and old images forever: no retention policy and no task running "
                "acr purge on a timer; set registry:retention",
                registry,
            )


def _cmk(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if as_mapping(args.props.get("encryption")).get("status") != "enabled":
        yield f"{args.name}: encrypt with a customer-managed key (registry:storage.encryption kms)"


POLICIES = [
    resource_policy(
        name="acr-admin-user-disabled",
        description="Azure container registries have the admin user disabled.",
        types=REGISTRIES,
        check=_admin_user,
        level=MANDATORY,
    ),
    resource_policy(
        name="acr-anonymous-pull-disabled",
        description="Azure container registries do not allow anonymous pull.",
        types=REGISTRIES,
        check=_anonymous_pull,
        level=MANDATORY,
    ),
    stack_policy(
        name="acr-no-delete-on-every-registry",
        description="No role assignment above a single registry gives AcrDelete, AcrPush, Owner or Contributor, which would reach every registry in that scope.",
        check=_no_delete_everywhere,
        level=MANDATORY,
    ),
    stack_policy(
        name="acr-delete-lock-in-production",
        description="Every Azure container registry of a production stack has a CanNotDelete or ReadOnly lock on it or its resource group.",
        check=_delete_lock,
        level=MANDATORY,
        production_only=True,
    ),
    resource_policy(
        name="acr-network-restricted",
        description="Azure container registries disable public network access or deny networks not listed.",
        types=REGISTRIES,
        check=_network,
        level=ADVISORY,
    ),
    stack_policy(
        name="acr-retention",
        description="Every Azure container registry has a retention policy or a timed task that runs acr purge.",
        check=_retention,
        level=ADVISORY,
    ),
    resource_policy(
        name="acr-customer-managed-key",
        description="Azure container registries are encrypted with a customer-managed key.",
        types=REGISTRIES,
        check=_cmk,
        level=ADVISORY,
    ),
]
