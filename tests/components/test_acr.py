"""The `acr` target under the recording mocks: every input that matters, per resource."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import yaml

from components.config import Retention
from components.renderers.acr import maintenance_task
from tests.conftest import ROOT, RunStack, provider_modules_loaded_by, refused_run
from tools.mock_program import (
    AZURE_SUBSCRIPTION,
    AZURE_TENANT,
    ProgramRun,
    RealisticMocks,
    Secret,
    plaintext_leaks,
    run_program,
    unwrap,
)
from tools.stack_config import load_project, load_stack_config

NAME, GROUP = "contosoregistryprod", "rg-contosoregistryprod"
SERVER = f"{NAME}.azurecr.io"
GROUP_ID = f"/subscriptions/{AZURE_SUBSCRIPTION}/resourceGroups/{GROUP}"
REGISTRY_ID = f"{GROUP_ID}/providers/Microsoft.ContainerRegistry/registries/{NAME}"
VAULT_ID = f"{GROUP_ID}/providers/Microsoft.KeyVault/vaults/kv-{NAME}"
VAULT_URI = f"https://kv-{NAME}.vault.azure.net"
CI, READERS = "3f2b8c41-9d6e-4a57-b0c3-7e1f5a9d2c68", "a9c4e2d7-5b13-4f8e-9a62-0d7c3b1e8f45"
ASSIGNMENT = "azure-native:authorization:RoleAssignment"
ROLES = {
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "AcrPush": "8311e382-0749-4cb8-b61a-304f252e45ec",
    "AcrDelete": "c2f4ef07-c644-48eb-af81-4b1b4947fb11",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "Key Vault Crypto Service Encryption User": "e147488a-f6f5-4113-8e2d-b22465e65bf6",
    "Key Vault Crypto User": "12338af0-0e69-4776-bea7-57ae8d297424",
    "Key Vault Reader": "21090545-7ca7-4776-b22c-e363652d74d2",
}
TOKEN = "dckr_pat_acr_4c1d"


def role(name: str) -> str:
    return f"/subscriptions/{AZURE_SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{ROLES[name]}"


@pytest.fixture(scope="module")
def acr() -> ProgramRun:
    return run_program(ROOT, "acr")


def registry(run: ProgramRun) -> dict[str, Any]:
    found: dict[str, Any] = unwrap(run.named("registry-acr").inputs)
    return found


def assignments(run: ProgramRun) -> set[tuple[str, str, str, str]]:
    """(scope, role, principal id, principal type) of every role assignment."""
    return {
        (a.inputs["scope"], a.inputs["roleDefinitionId"], a.inputs["principalId"], a.inputs["principalType"])
        for a in run.of_type(ASSIGNMENT)
    }


def stack_config(**changes: str) -> dict[str, str]:
    raw, _ = load_stack_config(load_project(ROOT), "acr")
    return {**raw, **changes}


def test_only_the_azure_native_sdk_is_loaded() -> None:
    assert {m.split(".")[0] for m in provider_modules_loaded_by("acr")} == {"pulumi_azure_native"}


def test_the_registry_is_premium_without_admin_user_or_anonymous_pull(acr: ProgramRun) -> None:
    i = registry(acr)
    assert (i["registryName"], i["resourceGroupName"], i["location"]) == (NAME, GROUP, "westeurope")
    assert i["sku"] == {"name": "Premium"}
    assert i["adminUserEnabled"] is False and i["anonymousPullEnabled"] is False
    assert acr.named("registry-acr").protect and acr.named("registry-group").protect
    group = acr.named("registry-group").inputs
    assert (group["resourceGroupName"], group["location"]) == (GROUP, "westeurope")


def test_allowed_cidrs_become_a_deny_by_default_network_rule_set(acr: ProgramRun) -> None:
    i = registry(acr)
    assert i["publicNetworkAccess"] == "Enabled"
    assert i["networkRuleSet"] == {
        "defaultAction": "Deny",
        "ipRules": [
            {"iPAddressOrRange": "203.0.113.0/24", "action": "Allow"},
            {"iPAddressOrRange": "198.51.100.17", "action": "Allow"},
        ],
    }
    assert i["networkRuleBypassOptions"] == "AzureServices"  # the artifact cache fills through it


@pytest.mark.parametrize(
    ("cidrs", "access", "rules"),
    [
        ("[]", "Disabled", None),  # private: reached through private endpoints only
        (None, "Enabled", None),  # public
    ],
)
def test_an_empty_list_makes_the_registry_private_and_none_public(
    run_stack: RunStack, cidrs: str | None, access: str, rules: Any
) -> None:
    overrides = {"registry:allowedCidrs": cidrs} if cidrs is not None else {}
    config = stack_config(**overrides)
    if cidrs is None:
        del config["registry:allowedCidrs"]
    run = run_program(ROOT, "acr", config=config, secret_keys=[])
    assert registry(run)["publicNetworkAccess"] == access
    assert registry(run).get("networkRuleSet") == rules


def test_untagged_days_is_the_registry_retention_policy_on_premium(acr: ProgramRun) -> None:
    assert registry(acr)["policies"] == {
        "retentionPolicy": {"days": 7.0, "status": "enabled"},
        "exportPolicy": {"status": "disabled"},
    }


def test_on_standard_untagged_manifests_go_by_the_purge_task_only(run_stack: RunStack) -> None:
    config = stack_config(**{"registry:sku": "Standard", "registry:storage": "{}", "registry:production": "false"})
    for key in ("registry:replication", "registry:allowedCidrs"):
        del config[key]
    run = run_program(ROOT, "acr", config=config)
    assert registry(run)["sku"] == {"name": "Standard"}
    assert registry(run)["policies"] == {}
    steps = yaml.safe_load(task_yaml(run))["steps"]
    assert "--untagged-only --ago 7d" in steps[1]["cmd"]


def task_yaml(run: ProgramRun) -> str:
    content = run.named("registry-maintenance").inputs["step"]["encodedTaskContent"]
    return base64.b64decode(content).decode()


def test_retention_runs_acr_purge_on_a_timer(acr: ProgramRun) -> None:
    task = acr.named("registry-maintenance").inputs
    assert (task["taskName"], task["registryName"], task["location"]) == ("registry-maintenance", NAME, "westeurope")
    assert task["status"] == "Enabled" and task["isSystemTask"] is False
    assert task["platform"] == {"os": "Linux", "architecture": "amd64"}
    assert task["trigger"] == {"timerTriggers": [{"name": "maintenance", "schedule": "0 3 * * *", "status": "Enabled"}]}
    assert task["step"]["type"] == "EncodedTask"
    retention = Retention(keep_tagged=30, untagged_days=7, protected_tags=["v*", "release-*"])
    assert task_yaml(acr) == maintenance_task(retention, ["team-a/api", "team-a/web", "team-b/worker"], ["ghcr", "k8s"])
    commands = [s["cmd"] for s in yaml.safe_load(task_yaml(acr))["steps"]]
    assert commands == [
        "mcr.microsoft.com/acr/acr-cli:0.19 purge --filter "
        r"'(team\-a/api|team\-a/web|team\-b/worker|ghcr/.+|k8s/.+):^(?!(v.*|release\-.*)$).*$' --ago 0d --keep 30",
        "mcr.microsoft.com/acr/acr-cli:0.19 purge --filter "
        r"'(team\-a/api|team\-a/web|team\-b/worker|ghcr/.+|k8s/.+):.*' --untagged-only --ago 7d",
    ]


def test_the_maintenance_schedule_sets_the_timer(run_stack: RunStack) -> None:
    schedule = json.dumps({"schedule": "30 1 * * 0", "retention": True})
    run = run_stack("acr", overrides={"registry:maintenance": schedule})
    assert run.named("registry-maintenance").inputs["trigger"]["timerTriggers"][0]["schedule"] == "30 1 * * 0"


def test_without_retention_there_is_no_task(run_stack: RunStack) -> None:
    config = stack_config()
    del config["registry:retention"]
    assert run_program(ROOT, "acr", config=config).of_type("azure-native:containerregistry:Task") == []


def test_each_region_is_a_geo_replication(acr: ProgramRun) -> None:
    [replica] = acr.of_type("azure-native:containerregistry:Replication")
    i = replica.inputs
    assert (i["replicationName"], i["location"], i["registryName"], i["resourceGroupName"]) == (
        "northeurope",
        "northeurope",
        NAME,
        GROUP,
    )
    assert i["regionEndpointEnabled"] is True and replica.protect


def test_the_key_is_an_rsa_key_the_registry_identity_may_use_before_the_registry_exists(acr: ProgramRun) -> None:
    key = acr.named("registry-key").inputs
    assert (key["vaultName"], key["keyName"]) == (f"kv-{NAME}", "registry-encryption")
    assert key["properties"]["kty"] == "RSA" and key["properties"]["keySize"] == 2048
    assert key["properties"]["keyOps"] == ["wrapKey", "unwrapKey"]
    identity = acr.named("registry-identity")
    grant = acr.named("registry-key-identity")
    assert grant.inputs["scope"] == f"{VAULT_ID}/keys/registry-encryption"
    assert grant.inputs["roleDefinitionId"] == role("Key Vault Crypto Service Encryption User")
    assert grant.inputs["principalId"] == identity.outputs["principalId"]
    encryption = registry(acr)["encryption"]
    assert encryption == {
        "status": "enabled",
        # versionless: ACR follows the key's rotation
        "keyVaultProperties": {
            "keyIdentifier": f"{VAULT_URI}/keys/registry-encryption",
            "identity": identity.outputs["clientId"],
        },
    }
    assert registry(acr)["identity"] == {
        "type": "UserAssigned",
        "userAssignedIdentities": {
            f"{GROUP_ID}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-{NAME}": {}
        },
    }
    assert grant.urn in acr.named("registry-acr").dependencies


def test_a_given_key_is_used_and_its_vault_granted(run_stack: RunStack) -> None:
    vault = f"/subscriptions/{AZURE_SUBSCRIPTION}/resourceGroups/keys/providers/Microsoft.KeyVault/vaults/corp-keys"
    storage = {"encryption": "kms", "keyId": "https://corp-keys.vault.azure.net/keys/acr", "keyVaultId": vault}
    run = run_stack("acr", overrides={"registry:storage": json.dumps(storage)})
    assert [k.name for k in run.of_type("azure-native:keyvault:Key")] == ["registry-signing-key"]
    assert run.named("registry-key-identity").inputs["scope"] == vault
    assert registry(run)["encryption"]["keyVaultProperties"]["keyIdentifier"] == storage["keyId"]


def test_the_vault_is_rbac_with_purge_protection(acr: ProgramRun) -> None:
    vault = acr.named("registry-vault")
    properties = vault.inputs["properties"]
    assert properties["enableRbacAuthorization"] is True and properties["enablePurgeProtection"] is True
    assert properties["tenantId"] == AZURE_TENANT and properties["sku"] == {"family": "A", "name": "standard"}
    assert vault.protect


def test_entra_principals_get_acr_roles_on_the_registry_only(acr: ProgramRun) -> None:
    on_registry = {a for a in assignments(acr) if a[0] == REGISTRY_ID}
    assert on_registry == {
        (REGISTRY_ID, role("AcrPush"), CI, "ServicePrincipal"),
        (REGISTRY_ID, role("AcrPull"), READERS, "Group"),
    }
    names = {a.name for a in acr.of_type(ASSIGNMENT)}
    assert {"registry-push-serviceprincipal-3f2b8c41", "registry-pull-group-a9c4e2d7"} <= names


def test_delete_is_acr_delete(run_stack: RunStack) -> None:
    rules = [{"repositories": ["*"], "push": [f"servicePrincipal:{CI}"], "delete": [f"user:{READERS}"]}]
    run = run_stack("acr", overrides={"registry:access": json.dumps(rules)})
    assert (REGISTRY_ID, role("AcrDelete"), READERS, "User") in assignments(run)


def test_tokens_get_a_scope_map_of_exactly_their_grants(acr: ProgramRun) -> None:
    scope = acr.named("registry-scope-ci-team-b").inputs
    assert scope["actions"] == [
        "repositories/team-b/*/content/read",
        "repositories/team-b/*/content/write",
        "repositories/team-b/*/metadata/read",
    ]
    assert acr.named("registry-scope-cleanup-team-b").inputs["actions"] == [
        "repositories/team-b/*/content/delete",
        "repositories/team-b/*/metadata/read",
    ]
    token = acr.named("registry-token-ci-team-b")
    assert token.inputs["scopeMapId"] == f"{REGISTRY_ID}/scopeMaps/ci-team-b"
    assert token.inputs["status"] == "enabled" and "credentials" not in token.inputs  # passwords: never in state
    assert acr.outputs["tokens"]["ci-team-b"] == (
        f"az acr token credential generate --registry {NAME} --resource-group {GROUP} --name ci-team-b "
        "--password1 --expiration-in-days 90"
    )


def test_each_mirror_is_a_cache_rule_under_its_name(acr: ProgramRun) -> None:
    rules = {r.inputs["cacheRuleName"]: r.inputs for r in acr.of_type("azure-native:containerregistry:CacheRule")}
    assert {n: (r["sourceRepository"], r["targetRepository"]) for n, r in rules.items()} == {
        "ghcr": ("ghcr.io/*", "ghcr/*"),
        "k8s": ("registry.k8s.io/*", "k8s/*"),
    }
    assert all("credentialSetResourceId" not in r for r in rules.values())
    assert acr.outputs["mirrors"]["k8s"]["example"] == f"docker pull {SERVER}/k8s/pause:3.10"


def test_mirror_credentials_are_key_vault_secrets_only_the_credential_set_reads(run_stack: RunStack) -> None:
    mirrors = [{"name": "docker-hub", "upstream": "docker.io", "username": "someone", "accessToken": TOKEN}]
    run = run_stack("acr", overrides={"registry:mirrors": json.dumps(mirrors)}, secret_keys=["registry:mirrors"])
    token = run.named("registry-docker-hub-token")
    assert isinstance(token.inputs["properties"], Secret) and unwrap(token.inputs["properties"]) == {"value": TOKEN}
    assert "properties" in token.additional_secret_outputs
    credentials = run.named("registry-docker-hub-credentials")
    assert credentials.inputs["loginServer"] == "docker.io"
    assert credentials.inputs["identity"] == {"type": "SystemAssigned"}
    assert unwrap(credentials.inputs["authCredentials"]) == [
        {
            "name": "Credential1",
            "usernameSecretIdentifier": f"{VAULT_URI}/secrets/docker-hub-username",
            "passwordSecretIdentifier": f"{VAULT_URI}/secrets/docker-hub-token",
        }
    ]
    reader = credentials.outputs["identity"]["principalId"]
    for kind in ("username", "token"):
        grant = run.named(f"registry-docker-hub-{kind}-reader").inputs
        assert grant["scope"] == f"{VAULT_ID}/secrets/docker-hub-{kind}"
        assert (grant["roleDefinitionId"], grant["principalId"]) == (role("Key Vault Secrets User"), reader)
    rule = run.named("registry-docker-hub")
    assert rule.inputs["credentialSetResourceId"] == f"{REGISTRY_ID}/credentialSets/docker-hub"
    assert run.named("registry-docker-hub-token-reader").urn in rule.dependencies
    for resource in run.resources:
        assert plaintext_leaks(resource.inputs, {TOKEN}) == [], resource.name
        assert plaintext_leaks(resource.outputs, {TOKEN}) == [], resource.name
    assert plaintext_leaks(run.outputs, {TOKEN}) == []


def test_the_signing_key_is_ec_p256_signers_sign_and_readers_verify(acr: ProgramRun) -> None:
    key = acr.named("registry-signing-key")
    assert key.inputs["properties"] == {"kty": "EC", "curveName": "P-256", "keyOps": ["sign", "verify"]}
    assert key.protect
    scope = f"{VAULT_ID}/keys/cosign"
    assert {a for a in assignments(acr) if a[0] == scope} == {
        (scope, role("Key Vault Crypto User"), CI, "ServicePrincipal"),
        (scope, role("Key Vault Reader"), READERS, "Group"),
    }
    assert acr.outputs["signing"]["key"] == f"azurekms://kv-{NAME}.vault.azure.net/cosign"
    assert acr.outputs["signing"]["sign"].startswith(
        f"cosign sign --key azurekms://kv-{NAME}.vault.azure.net/cosign {SERVER}/"
    )


def test_production_locks_the_registry_after_everything_under_it(acr: ProgramRun) -> None:
    lock = acr.named("registry-delete-lock")
    assert (lock.inputs["scope"], lock.inputs["level"]) == (REGISTRY_ID, "CanNotDelete")
    inside = [
        r.urn
        for r in acr.resources
        if r.type.startswith("azure-native:containerregistry:") and r.name != "registry-acr"
        and r.type != "azure-native:containerregistry:ScopeMap"  # reached through its token
    ] + [a.urn for a in acr.of_type(ASSIGNMENT) if a.inputs["scope"] == REGISTRY_ID]  # fmt: skip
    assert sorted(inside) == sorted(u for u in lock.dependencies if u != acr.named("registry-acr").urn)


def test_outside_production_nothing_is_locked_or_protected(run_stack: RunStack) -> None:
    run = run_stack("acr", overrides={"registry:production": "false"})
    assert run.of_type("azure-native:authorization:ManagementLockByScope") == []
    assert [r.name for r in run.resources if r.protect] == []


def test_an_existing_resource_group_is_used_not_created(run_stack: RunStack) -> None:
    run = run_stack("acr", overrides={"registry:resourceGroup": "platform-registry"})
    assert run.of_type("azure-native:resources:ResourceGroup") == []
    assert registry(run)["resourceGroupName"] == "platform-registry"
    assert run.outputs["resourceGroup"] == "platform-registry"


def test_outputs_tell_how_to_log_in_and_what_scans(acr: ProgramRun) -> None:
    assert acr.outputs["loginServer"] == SERVER and acr.outputs["sku"] == "Premium"
    assert acr.outputs["loginSteps"][0] == f"az acr login --name {NAME}"
    assert "--expose-token" in acr.outputs["loginSteps"][1]
    assert acr.outputs["repositories"]["team-a/api"] == f"{SERVER}/team-a/api"
    assert "Defender for Containers" in acr.outputs["scanning"]
    assert acr.outputs["lockCommand"] == (
        f"az acr repository update --name {NAME} --image <repository>:<tag> --write-enabled false"
    )


def existing(status: str) -> dict[str, Any]:
    return {"encryption": {"status": status}, "loginServer": SERVER, "name": NAME, "id": REGISTRY_ID}


def test_an_encryption_change_is_refused_before_anything_is_declared() -> None:
    config = stack_config()
    message, declared = refused_run(
        "acr", config, calls={"azure-native:containerregistry:getRegistry": lambda a: existing("disabled")}
    )
    assert message.startswith("registry:storage.encryption: registry contosoregistryprod was created with Microsoft")
    assert "az acr import" in message
    assert [r.type for r in declared] == ["pulumi:providers:azure-native"]


def test_the_same_encryption_as_the_existing_registry_is_fine() -> None:
    mocks = RealisticMocks(calls={"azure-native:containerregistry:getRegistry": lambda a: existing("enabled")})
    run = run_program(ROOT, "acr", mocks=mocks)
    assert registry(run)["encryption"]["status"] == "enabled"


def test_every_resource_is_a_child_of_the_component(acr: ProgramRun) -> None:
    component = acr.named("registry")
    assert component.type == "registry:acr:AcrRegistry"
    provider = acr.named("registry-azure")
    assert provider.inputs["location"] == "westeurope"
    for resource in acr.resources:
        if resource.type.startswith("azure-native:"):
            assert resource.parent == component.urn, resource.name
            assert resource.provider.startswith(provider.urn), resource.name


def test_a_mixed_case_registry_name_is_pulled_from_its_lowercase_login_server(run_stack: RunStack) -> None:
    run = run_stack("acr", overrides={"registry:registryName": "ContosoRegistryProd"})
    assert registry(run)["registryName"] == "ContosoRegistryProd"
    assert run.outputs["repositories"]["team-a/api"] == f"{SERVER}/team-a/api"
    assert f"docker login {SERVER} " in run.outputs["loginSteps"][1]
    assert run.outputs["mirrors"]["k8s"]["url"] == f"{SERVER}/k8s"
