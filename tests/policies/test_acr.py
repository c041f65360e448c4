"""Azure Container Registry policies: one passing and one failing case each, and what a preview leaves unknown."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource

from components.config import Retention
from components.renderers.acr import maintenance_task
from tests.policies.support import NOT_APPLICABLE, options, resource, resource_args, run, stack_args

REGISTRY = "azure-native:containerregistry:Registry"
TASK = "azure-native:containerregistry:Task"
ASSIGNMENT = "azure-native:authorization:RoleAssignment"
GROUP = "azure-native:resources:ResourceGroup"
SCOPE_LOCK = "azure-native:authorization:ManagementLockByScope"
SUBSCRIPTION = "/subscriptions/6b1e7d8a-2f4c-4e21-9a0d-3c5b7e9f1a24"
GROUP_ID = f"{SUBSCRIPTION}/resourceGroups/rg-registry"
REGISTRY_ID = f"{GROUP_ID}/providers/Microsoft.ContainerRegistry/registries/teamacr"
ACR_DELETE = f"{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/c2f4ef07-c644-48eb-af81-4b1b4947fb11"
ACR_PULL = f"{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d"
CONTRIBUTOR = f"{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"
SAFE: dict[str, Any] = {
    "registryName": "teamacr",
    "resourceGroupName": "rg-registry",
    "sku": {"name": "Premium"},
    "adminUserEnabled": False,
    "anonymousPullEnabled": False,
    "publicNetworkAccess": "Enabled",
    "networkRuleSet": {"defaultAction": "Deny", "ipRules": [{"iPAddressOrRange": "203.0.113.0/24", "action": "Allow"}]},
    "encryption": {"status": "enabled", "keyVaultProperties": {"keyIdentifier": "https://v.vault.azure.net/keys/k"}},
    "policies": {"retentionPolicy": {"days": 7, "status": "enabled"}, "exportPolicy": {"status": "disabled"}},
}
PURGE = "version: v1.1.0\nsteps:\n  - cmd: acr purge --filter '.*:.*' --untagged --ago 7d\n    disableWorkingDirectoryOverride: true\n"


def registry_args(config: dict[str, Any] | None = None, **changes: Any) -> Any:
    return resource_args(REGISTRY, {**SAFE, **changes}, name="team", config=config)


def registry(**changes: Any) -> PolicyResource:
    return resource(REGISTRY, {**SAFE, "id": REGISTRY_ID, **changes}, name="team")


def previewed(
    type_: str, props: Mapping[str, Any], name: str, fed_by: Mapping[str, Sequence[PolicyResource]]
) -> PolicyResource:
    """A resource as a preview shows it: the props fed by `fed_by` are unknown (absent), their sources recorded."""
    deps = [r for sources in fed_by.values() for r in sources]
    return PolicyResource(
        type_, props, f"urn:{name}", name, options(), None, None, deps, {k: list(v) for k, v in fed_by.items()}
    )


def test_the_admin_user_is_refused() -> None:
    assert run("acr-admin-user-disabled", registry_args()) == []
    [message] = run("acr-admin-user-disabled", registry_args(adminUserEnabled=True)) or []
    assert message.startswith("team: the admin user is one shared password") and "registry:access" in message


def test_anonymous_pull_is_refused() -> None:
    assert run("acr-anonymous-pull-disabled", registry_args()) == []
    [message] = run("acr-anonymous-pull-disabled", registry_args(anonymousPullEnabled=True)) or []
    assert "anonymous pull lets anyone on the internet read" in message and "registry:access" in message


def assignment(scope: str | None, role: str = ACR_DELETE, name: str = "janitor") -> PolicyResource:
    props = {"roleDefinitionId": role, "principalId": "p-1", "principalType": "ServicePrincipal"}
    return resource(ASSIGNMENT, {**props, **({"scope": scope} if scope else {})}, name=name)


def test_delete_above_one_registry_is_refused_and_on_the_registry_allowed() -> None:
    on_registry = assignment(REGISTRY_ID)
    pull_everywhere = assignment(SUBSCRIPTION, ACR_PULL, "reader")
    assert run("acr-no-delete-on-every-registry", stack_args([on_registry, pull_everywhere])) == []
    [message] = run("acr-no-delete-on-every-registry", stack_args([assignment(SUBSCRIPTION)])) or []
    assert message.startswith(f"janitor (RoleAssignment) grants AcrDelete on the whole subscription ({SUBSCRIPTION})")
    assert "deletes images in every container registry there" in message and "registry:access" in message
    [message] = run("acr-no-delete-on-every-registry", stack_args([assignment(GROUP_ID, CONTRIBUTOR)])) or []
    assert "grants Contributor on the whole resource group" in message
    group = "/providers/Microsoft.Management/managementGroups/platform"
    [message] = run("acr-no-delete-on-every-registry", stack_args([assignment(group)])) or []
    assert "AcrDelete on the whole management group" in message


def test_an_unknown_scope_in_a_preview_is_not_reported() -> None:
    target = registry()
    unknown = previewed(ASSIGNMENT, {"roleDefinitionId": ACR_DELETE}, "janitor", {"scope": [target]})
    assert run("acr-no-delete-on-every-registry", stack_args([target, unknown])) == []


PRODUCTION = {"production": "always"}


def lock(scope: str, level: str = "CanNotDelete") -> PolicyResource:
    return resource(SCOPE_LOCK, {"scope": scope, "level": level}, name="lock")


def test_a_production_registry_needs_a_delete_lock() -> None:
    [message] = run("acr-delete-lock-in-production", stack_args([registry()], config=PRODUCTION)) or []
    assert message.startswith("team (Registry) has no delete lock") and "registry:production true" in message
    assert run("acr-delete-lock-in-production", stack_args([registry()], config={"production": "never"})) is (
        NOT_APPLICABLE
    )


def test_a_lock_on_the_registry_or_above_it_protects_it() -> None:
    for scope in (REGISTRY_ID, GROUP_ID, SUBSCRIPTION):
        assert run("acr-delete-lock-in-production", stack_args([registry(), lock(scope)], config=PRODUCTION)) == []
    other = lock(f"{SUBSCRIPTION}/resourceGroups/rg-other")
    assert len(run("acr-delete-lock-in-production", stack_args([registry(), other], config=PRODUCTION)) or []) == 1
    group_lock = resource(
        "azure-native:authorization:ManagementLockAtResourceGroupLevel",
        {"resourceGroupName": "rg-registry", "level": "ReadOnly"},
        name="group-lock",
    )
    assert run("acr-delete-lock-in-production", stack_args([registry(), group_lock], config=PRODUCTION)) == []
    resource_lock = resource(
        "azure-native:authorization:ManagementLockAtResourceLevel",
        {
            "resourceGroupName": "rg-registry",
            "resourceProviderNamespace": "Microsoft.ContainerRegistry",
            "resourceType": "registries",
            "resourceName": "teamacr",
            "level": "CanNotDelete",
        },
        name="resource-lock",
    )
    assert run("acr-delete-lock-in-production", stack_args([registry(), resource_lock], config=PRODUCTION)) == []


def test_a_lock_level_other_than_delete_or_read_only_does_not_protect() -> None:
    [message] = (
        run(
            "acr-delete-lock-in-production",
            stack_args([registry(), lock(REGISTRY_ID, "NotSpecified")], config=PRODUCTION),
        )
        or []
    )
    assert "team (Registry) has no delete lock" in message


def test_in_a_preview_the_lock_is_matched_by_where_its_scope_comes_from() -> None:
    group = resource(GROUP, {"resourceGroupName": "rg-registry"}, name="group")
    target = previewed(REGISTRY, {"registryName": "teamacr"}, "team", {"resourceGroupName": [group]})
    on_registry = previewed(SCOPE_LOCK, {"level": "CanNotDelete"}, "lock", {"scope": [target]})
    on_group = previewed(SCOPE_LOCK, {"level": "CanNotDelete"}, "lock", {"scope": [group]})
    for held in (on_registry, on_group):
        assert run("acr-delete-lock-in-production", stack_args([group, target, held], config=PRODUCTION)) == []
    # the group's name is known from config while the registry's id is not
    named = previewed(REGISTRY, {"registryName": "teamacr", "resourceGroupName": "rg-registry"}, "team", {})
    assert run("acr-delete-lock-in-production", stack_args([named, lock(GROUP_ID)], config=PRODUCTION)) == []
    other_group = lock(f"{SUBSCRIPTION}/resourceGroups/rg-other")
    assert len(run("acr-delete-lock-in-production", stack_args([named, other_group], config=PRODUCTION)) or []) == 1
    elsewhere = previewed(SCOPE_LOCK, {"level": "CanNotDelete"}, "lock", {"scope": [resource(GROUP, {}, name="g2")]})
    [message] = run("acr-delete-lock-in-production", stack_args([group, target, elsewhere], config=PRODUCTION)) or []
    assert "team (Registry) has no delete lock" in message


def test_a_registry_open_to_every_network_is_flagged() -> None:
    assert run("acr-network-restricted", registry_args()) == []
    assert run("acr-network-restricted", registry_args(networkRuleSet=None, publicNetworkAccess="Disabled")) == []
    [message] = run("acr-network-restricted", registry_args(networkRuleSet={"defaultAction": "Allow"})) or []
    assert message == "team: reachable from the whole internet; list your networks in registry:allowedCidrs"


def task(content: str = PURGE, **changes: Any) -> PolicyResource:
    props = {
        "registryName": "teamacr",
        "step": {"type": "EncodedTask", "encodedTaskContent": base64.b64encode(content.encode()).decode()},
        "trigger": {"timerTriggers": [{"name": "daily", "schedule": "0 3 * * *", "status": "Enabled"}]},
        "status": "Enabled",
        **changes,
    }
    return resource(TASK, props, name="maintenance")


def test_retention_is_a_policy_or_a_timed_purge_task() -> None:
    no_policy = registry(policies={"retentionPolicy": {"days": 7, "status": "disabled"}})
    assert run("acr-retention", stack_args([registry()])) == []
    assert run("acr-retention", stack_args([no_policy, task()])) == []
    [message] = run("acr-retention", stack_args([no_policy])) or []
    assert (
        message.startswith("team (Registry) keeps untagged and old images forever") and "registry:retention" in message
    )
    for idle in (task("version: v1.1.0\nsteps:\n  - cmd: acr import\n"), task(status="Disabled"), task(trigger={})):
        assert len(run("acr-retention", stack_args([no_policy, idle])) or []) == 1
    pinned = maintenance_task(Retention(keep_tagged=5), ["team-a/api"], [])  # what the acr target deploys
    assert "mcr.microsoft.com/acr/acr-cli:" in pinned
    assert run("acr-retention", stack_args([no_policy, task(pinned)])) == []
    other = task(registryName="otheracr")
    assert "keeps untagged and old images forever" in (run("acr-retention", stack_args([no_policy, other])) or [""])[0]


def test_in_a_preview_the_purge_task_is_matched_by_where_its_registry_name_comes_from() -> None:
    target = resource(REGISTRY, {"policies": {}}, name="team")
    props = {k: v for k, v in task().props.items() if k != "registryName"}
    assert run("acr-retention", stack_args([target, previewed(TASK, props, "t", {"registryName": [target]})])) == []
    other = resource(REGISTRY, {"policies": {}}, name="other")
    [message] = run("acr-retention", stack_args([target, previewed(TASK, props, "t", {"registryName": [other]})])) or []
    assert message.startswith("team (Registry) keeps untagged")


def test_encryption_with_a_platform_key_is_flagged() -> None:
    assert run("acr-customer-managed-key", registry_args()) == []
    [message] = run("acr-customer-managed-key", registry_args(encryption={"status": "disabled"})) or []
    assert message == "team: encrypt with a customer-managed key (registry:storage.encryption kms)"
