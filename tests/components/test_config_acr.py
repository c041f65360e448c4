"""The intent keys on target acr: each case changes one thing from a minimal valid acr config."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.config import AcrSettings, ConfigError, load_settings
from components.config.acr import ACR_UPSTREAMS, CREDENTIALS_REQUIRED, KEY_VAULT_NAME
from components.config.intent import UPSTREAMS
from tests.conftest import config_problems, refused_run

MINIMAL_ACR: dict[str, str] = {
    "registry:target": "acr",
    "registry:location": "westeurope",
    "registry:registryName": "contosoregistry",
    "registry:repositories": '[{"name": "team-a/api"}]',
    "registry:immutableTags": "false",
}
# Entra ID object ids (the principal type a role assignment records) and a repository-scoped token
CI = "servicePrincipal:3f2b8c41-9d6e-4a57-b0c3-7e1f5a9d2c68"
DEPLOY = "group:a9c4e2d7-5b13-4f8e-9a62-0d7c3b1e8f45"
DEV = "user:0d7c3b1e-8f45-4a57-9d6e-3f2b8c41b0c3"
TOKEN = "token:ci-team"
SUBSCRIPTION = "/subscriptions/00000000-0000-0000-0000-000000000000"
VAULT_ID = f"{SUBSCRIPTION}/resourceGroups/rg-keys/providers/Microsoft.KeyVault/vaults/kv-contoso-keys"
KEY_ID = "https://kv-contoso-keys.vault.azure.net/keys/registry-cmk"
SECRET_MIRRORS = frozenset({"registry:mirrors"})
HUB = {"name": "docker-hub", "upstream": "docker.io", "username": "someone", "accessToken": "dckr_pat_x"}
UNSET = None  # raw(key=UNSET) leaves registry:<key> out of the config


def raw(**changes: object) -> dict[str, str]:
    """The minimal config with `registry:<key>` changed as `pulumi config set` would store it."""
    config = dict(MINIMAL_ACR)
    for key, value in changes.items():
        name = key if ":" in key else f"registry:{key}"  # another namespace's key (azure-native:location) as given
        if value is UNSET:
            config.pop(name, None)
        else:
            config[name] = value if isinstance(value, str) else json.dumps(value)
    return config


def acr(secret: frozenset[str] = frozenset(), **changes: object) -> AcrSettings:
    loaded = load_settings(raw(**changes), secret)
    assert isinstance(loaded, AcrSettings)
    return loaded


def problems(secret: frozenset[str] = frozenset(), **changes: object) -> list[str]:
    return config_problems(raw(**changes), secret)


def refused(key: str, secret: frozenset[str] = frozenset(), **changes: object) -> str:
    """The one problem a change causes, checked to name `key`."""
    found = problems(secret, **changes)
    assert len(found) == 1, found
    assert found[0].startswith(f"{key}: "), found[0]
    return found[0]


# ---------------------------------------------------------------- the minimal config and the SKU


def test_minimal_acr_config_gets_documented_defaults() -> None:
    s = acr()
    assert (s.location, s.registry_name, s.resource_group, s.sku) == ("westeurope", "contosoregistry", None, None)
    assert [r.name for r in s.repositories] == ["team-a/api"]
    assert s.effective_sku == "Standard" and s.premium_features == {}
    assert s.immutable_tags is False and s.mutable_tags == [] and s.retention is None
    assert s.allowed_cidrs is None and s.replication is None and s.mirrors == [] and s.access == []
    assert (s.storage.encryption, s.storage.key_id, s.storage.key_vault_id) == ("microsoft", None, None)
    assert s.maintenance is None and s.production is False and s.signing.enabled is False
    assert s.needs_vault is False and s.untagged_policy is False


# each setting only Premium has, as the key the SKU rule names
PREMIUM_FEATURES: list[Any] = [
    pytest.param({"replication": {"regions": ["northeurope"]}}, "replication", id="replication"),
    pytest.param({"allowedCidrs": ["203.0.113.0/24"]}, "allowedCidrs", id="allowed-cidrs"),
    pytest.param({"allowedCidrs": []}, "allowedCidrs", id="private"),
    pytest.param({"storage": {"encryption": "kms"}}, "storage.encryption", id="customer-managed-key"),
]


@pytest.mark.parametrize(("changes", "key"), PREMIUM_FEATURES)
def test_a_premium_feature_makes_the_unset_sku_premium(changes: dict[str, Any], key: str) -> None:
    s = acr(**changes)
    assert s.sku is None and s.effective_sku == "Premium"
    assert list(s.premium_features) == [key]


@pytest.mark.parametrize("sku", ["Basic", "Standard", "Premium"])
def test_an_explicit_sku_is_the_effective_one(sku: str) -> None:
    assert acr(sku=sku).effective_sku == sku


@pytest.mark.parametrize("sku", ["Basic", "Standard"])
@pytest.mark.parametrize(("changes", "key"), PREMIUM_FEATURES)
def test_a_premium_feature_on_a_lesser_sku_is_refused_naming_premium(
    sku: str, changes: dict[str, Any], key: str
) -> None:
    problem = refused(f"registry:{key}", sku=sku, **changes)
    assert "on the Premium SKU only" in problem
    assert "set registry:sku to Premium or remove it" in problem


@pytest.mark.parametrize(("changes", "key"), PREMIUM_FEATURES)
def test_a_premium_feature_on_premium_validates(changes: dict[str, Any], key: str) -> None:
    s = acr(sku="Premium", **changes)
    assert s.effective_sku == "Premium" and key in s.premium_features


def test_an_unknown_sku_is_refused() -> None:
    problem = refused("registry:sku", sku="premium")
    assert "'Basic', 'Standard' or 'Premium'" in problem
    assert "pulumi config set registry:sku <value>" in problem


@pytest.mark.parametrize(
    ("changes", "applies"),
    [
        pytest.param({"sku": "Premium", "retention": {"untaggedDays": 7}}, True, id="premium"),
        pytest.param(
            {"replication": {"regions": ["northeurope"]}, "retention": {"untaggedDays": 7}}, True, id="made-premium"
        ),
        pytest.param({"retention": {"untaggedDays": 7}}, False, id="standard"),
        pytest.param({"sku": "Basic", "retention": {"untaggedDays": 7}}, False, id="basic"),
        pytest.param({"sku": "Premium", "retention": {"untaggedDays": 7, "dryRun": True}}, False, id="dry-run"),
        pytest.param({"sku": "Premium", "retention": {"keepTagged": 5}}, False, id="no-untagged-days"),
        pytest.param({"sku": "Premium"}, False, id="no-retention"),
    ],
)
def test_the_untagged_retention_policy_needs_premium_and_no_dry_run(changes: dict[str, Any], applies: bool) -> None:
    assert acr(**changes).untagged_policy is applies


# ---------------------------------------------------------------- one change, one problem


ONE_CHANGE: list[Any] = [
    # location and replication: Azure region names
    pytest.param({"location": "us-east99"}, "registry:location", "not an Azure region name", id="location-made-up"),
    pytest.param({"location": "eu-west-1"}, "registry:location", "use one such as westeurope", id="location-aws"),
    pytest.param({"location": UNSET}, "registry:location", "Field required", id="location-unset"),
    pytest.param(
        {"replication": {"regions": ["eu-central-1"]}},
        "registry:replication.regions",
        "not an Azure region name",
        id="replication-aws-region",
    ),
    pytest.param(
        {"replication": {"regions": ["northeurope", "northeurope"]}},
        "registry:replication.regions",
        "'northeurope' is listed twice",
        id="replication-duplicate",
    ),
    pytest.param(
        {"replication": {"regions": ["northeurope", "westeurope"]}},
        "registry:replication.regions[1]",
        "is registry:location, where the registry lives already; list other regions",
        id="replication-at-location",
    ),
    pytest.param(
        {"replication": {"regions": []}}, "registry:replication.regions", "at least 1 item", id="replication-empty"
    ),
    # names
    pytest.param({"registryName": "contoso-registry"}, "registry:registryName", "no '-'", id="registry-name-dash"),
    pytest.param({"registryName": "cont"}, "registry:registryName", "5-50 letters and digits", id="registry-name-4"),
    pytest.param({"registryName": "c" * 51}, "registry:registryName", "5-50 letters and digits", id="registry-name-51"),
    pytest.param({"registryName": UNSET}, "registry:registryName", "Field required", id="registry-name-unset"),
    pytest.param({"keyVaultName": "kv--registry"}, "registry:keyVaultName", "no '--'", id="vault-double-dash"),
    pytest.param({"keyVaultName": "kv-registry-"}, "registry:keyVaultName", "not ending in '-'", id="vault-dash-end"),
    pytest.param(
        {"keyVaultName": "1kv-registry"}, "registry:keyVaultName", "starting with a letter", id="vault-digit-start"
    ),
    pytest.param({"keyVaultName": "kv"}, "registry:keyVaultName", "3-24 letters", id="vault-too-short"),
    pytest.param(
        {"resourceGroup": "rg-registry."}, "registry:resourceGroup", "not a resource group name", id="group-dot-end"
    ),
    pytest.param(
        {"resourceGroup": "rg/registry"}, "registry:resourceGroup", "not a resource group name", id="group-slash"
    ),
    pytest.param({"resourceGroup": "r" * 91}, "registry:resourceGroup", "1-90 letters", id="group-too-long"),
    # network rules
    pytest.param(
        {"allowedCidrs": ["2001:db8::/32"]}, "registry:allowedCidrs", "ACR network rules take IPv4 only", id="ipv6"
    ),
    pytest.param(
        {"allowedCidrs": ["0.0.0.0/0"]},
        "registry:allowedCidrs",
        "admits everyone; leave registry:allowedCidrs unset for a public registry",
        id="everyone",
    ),
    pytest.param(
        {"allowedCidrs": ["office"]}, "registry:allowedCidrs", "not an IPv4 address or CIDR range", id="not-a-cidr"
    ),
    pytest.param(
        {"allowedCidrs": ["203.0.113.7/24"]},
        "registry:allowedCidrs",
        "not an IPv4 address or CIDR range",
        id="host-bits-set",
    ),
    pytest.param(
        {"allowedCidrs": ["203.0.113.0/24", "203.0.113.0/24"]},
        "registry:allowedCidrs",
        "'203.0.113.0/24' is listed twice",
        id="cidr-duplicate",
    ),
    # tag immutability: ACR has none at push time
    pytest.param(
        {"immutableTags": UNSET},
        "registry:immutableTags",
        "set registry:immutableTags false",
        id="immutable-default",
    ),
    pytest.param(
        {"immutableTags": "true"}, "registry:immutableTags", "ACR cannot refuse a push", id="immutable-explicit"
    ),
    pytest.param(
        {"repositories": [{"name": "team-a/api", "immutableTags": True}]},
        "registry:repositories[0].immutableTags",
        "remove repositories[].immutableTags",
        id="immutable-repository",
    ),
    pytest.param(
        {"azure-native:location": "northeurope"},
        "azure-native:location",
        "(northeurope) differs from registry:location (westeurope), which places the registry",
        id="provider-location-differs",
    ),
    pytest.param(
        {"aws:region": "eu-west-1"}, "aws:region", "which only targets aws, ecr use, not acr", id="aws-region"
    ),
    pytest.param(
        {"mutableTags": ["latest"]},
        "registry:mutableTags",
        "nothing is immutable on acr, so no tag needs an exemption; remove it",
        id="mutable-tags",
    ),
    # maintenance and retention
    pytest.param(
        {"maintenance": {"schedule": "0 3 * * 0", "gc": True}},
        "registry:maintenance.gc",
        "there is no garbage collection to run",
        id="gc",
    ),
    pytest.param(
        {"maintenance": {"schedule": "0 3 * *", "retention": True}},
        "registry:maintenance.schedule",
        "give five",
        id="bad-schedule",
    ),
    pytest.param(
        {"retention": {"untaggedDays": 366}},
        "registry:retention.untaggedDays",
        "at most 365 days; lower it",
        id="untagged-days-366",
    ),
    # mirrors
    pytest.param(
        {"mirrors": [{"name": "docker-hub", "upstream": "docker.io"}]},
        "registry:mirrors[0].accessToken",
        "EnforceDockerAuthentication",
        id="docker-hub-anonymous",
    ),
    pytest.param(
        {"mirrors": [HUB]},
        "registry:mirrors[0].accessToken",
        "pulumi config set --secret --path 'registry:mirrors[0].accessToken'",
        id="plaintext-token",
    ),
    pytest.param(
        {"mirrors": [{"name": "hub", "upstream": "hub.docker.com"}]},
        "registry:mirrors[0].upstream",
        "use one of docker.io",
        id="unknown-upstream",
    ),
    # storage: Microsoft-managed, or a customer-managed key in Key Vault
    pytest.param(
        {"storage": {"encryption": "kms", "keyId": KEY_ID}},
        "registry:storage.keyVaultId",
        "storage.keyId and storage.keyVaultId go together",
        id="key-without-vault",
    ),
    pytest.param(
        {"storage": {"encryption": "kms", "keyVaultId": VAULT_ID}},
        "registry:storage.keyVaultId",
        "set both, or neither",
        id="vault-without-key",
    ),
    pytest.param(
        {
            "storage": {
                "encryption": "kms",
                "keyId": f"{KEY_ID}/0123456789abcdef0123456789abcdef",
                "keyVaultId": VAULT_ID,
            }
        },
        "registry:storage.keyId",
        "leave the version out so ACR follows the key's rotation",
        id="versioned-key",
    ),
    pytest.param(
        {
            "storage": {
                "encryption": "kms",
                "keyId": "https://kv-elsewhere.vault.azure.net/keys/registry-cmk",
                "keyVaultId": VAULT_ID,
            }
        },
        "registry:storage.keyVaultId",
        "names vault kv-contoso-keys, but storage.keyId is in vault kv-elsewhere; name the same vault",
        id="key-in-another-vault",
    ),
    pytest.param(
        {"storage": {"encryption": "kms", "keyId": KEY_ID, "keyVaultId": "kv-contoso-keys"}},
        "registry:storage.keyVaultId",
        "is not a Key Vault resource id",
        id="vault-not-an-id",
    ),
    pytest.param(
        {"storage": {"encryption": "microsoft", "keyId": KEY_ID, "keyVaultId": VAULT_ID}},
        "registry:storage.keyId",
        "only used with encryption 'kms'; set storage.encryption to kms",
        id="key-without-kms",
    ),
    # access: Entra ID role assignments on the registry, tokens per repository
    pytest.param(
        {"access": [{"repositories": ["*"], "pull": ["arn:aws:iam::123456789012:role/ci"]}]},
        "registry:access[0].pull[0]",
        "servicePrincipal:<object id>, group:<object id>, user:<object id>) or a repository-scoped token (token:<name>",
        id="aws-arn",
    ),
    pytest.param(
        {"access": [{"repositories": ["*"], "pull": ["allUsers"]}]},
        "registry:access[0].pull[0]",
        "is not an acr principal",
        id="all-users",
    ),
    pytest.param(
        {"access": [{"repositories": ["*"], "pull": [DEPLOY, "3f2b8c41-9d6e-4a57-b0c3-7e1f5a9d2c68"]}]},
        "registry:access[0].pull[1]",
        "servicePrincipal:<object id>",
        id="bare-object-id",
    ),
    pytest.param(
        {"access": [{"repositories": ["*"], "push": ["token:ci"]}]},
        "registry:access[0].push[0]",
        "token:<name>, 5-50 letters",
        id="token-name-too-short",
    ),
    pytest.param(
        {"access": [{"repositories": ["team-a/*"], "push": [CI]}]},
        "registry:access[0].push[0]",
        "grant it on repositories ['*'], or name a repository-scoped token (token:<name>) here",
        id="role-on-a-path",
    ),
    pytest.param(
        {"access": [{"repositories": ["team-a/api"], "delete": [DEV]}]},
        "registry:access[0].delete[0]",
        "an Azure role assignment on the registry covers every repository",
        id="role-on-a-repository",
    ),
    pytest.param(
        {"access": [{"repositories": ["team-*"], "push": [TOKEN]}]},
        "registry:access[0].repositories[0]",
        "ACR scope maps take a repository, a path ending in '/*' (team-a/*) or '*'",
        id="prefix-pattern",
    ),
    pytest.param(
        {"access": [{"repositories": ["team-a/*", "team-b/*"], "push": [TOKEN]}]},
        "registry:access[0].repositories[1]",
        "(team-b/*) matches no repository in registry:repositories",
        id="pattern-matches-nothing",
    ),
    # signing: only an Entra ID principal can use the Key Vault key
    pytest.param(
        {"signing": {"enabled": True}, "access": [{"repositories": ["team-a/*"], "push": [TOKEN]}]},
        "registry:access",
        "grants no Entra ID principal push, so nobody could sign",
        id="signing-only-tokens-push",
    ),
    pytest.param(
        {"signing": {"enabled": True}},
        "registry:access",
        "list your CI's service principal under push",
        id="signing-no-access",
    ),
    # keys of other targets
    pytest.param(
        {"users": [{"name": "ci", "access": "push"}]},
        "registry:users",
        "only applies to targets local, aws, not acr (ACR access is Entra ID and tokens",
        id="users",
    ),
    pytest.param(
        {"replicas": "2"},
        "registry:replicas",
        "only applies to targets local, aws, not acr (ACR scales by itself)",
        id="replicas",
    ),
    pytest.param(
        {"notifications": [{"url": "https://hooks.example.com/registry"}]},
        "registry:notifications",
        "only applies to targets local, aws, not acr; remove it (`pulumi config rm registry:notifications`)",
        id="notifications",
    ),
    pytest.param({"domain": "registry.example.com"}, "registry:domain", "<registryName>.azurecr.io", id="domain"),
    pytest.param({"tls": {"mode": "acm"}}, "registry:tls", "Microsoft's certificate", id="tls"),
    pytest.param({"regions": ["eu-west-1"]}, "registry:regions", "only applies to target aws, not acr", id="regions"),
    pytest.param({"project": "my-project"}, "registry:project", "unknown key", id="project"),
    pytest.param(
        {"registryname": "contosoregistry"}, "registry:registryname", "did you mean registry:registryName", id="typo"
    ),
]


@pytest.mark.parametrize(("changes", "key", "says"), ONE_CHANGE)
def test_bad_acr_config_names_key_and_fix(changes: dict[str, Any], key: str, says: str) -> None:
    assert says in refused(key, **changes)


@pytest.mark.parametrize(("changes", "key", "says"), ONE_CHANGE)
def test_bad_acr_config_fails_before_any_resource(changes: dict[str, Any], key: str, says: str) -> None:
    message, declared = refused_run("acr", raw(**changes))
    assert f"{key}: " in message and says in message
    assert declared == []


# ---------------------------------------------------------------- what validates, and what it means


@pytest.mark.parametrize("tags", [UNSET, "true"])
def test_tag_immutability_refusal_says_how_to_lock_tags_instead(tags: str | None) -> None:
    problem = refused("registry:immutableTags", immutableTags=tags)
    assert "az acr repository update --name contosoregistry --image <repository>:<tag>" in problem
    assert "--write-enabled false" in problem


def test_repositories_may_say_immutable_tags_false() -> None:
    s = acr(repositories=[{"name": "team-a/api", "immutableTags": False}, {"name": "team-a/web"}])
    assert [s.immutable(r) for r in s.repositories] == [False, False]


def test_replication_to_other_azure_regions_validates() -> None:
    s = acr(replication={"regions": ["northeurope", "eastus2"]})
    assert s.replication is not None and s.replication.regions == ["northeurope", "eastus2"]


@pytest.mark.parametrize("name", ["conto", "c" * 50, "ContosoRegistry2"])
def test_registry_names_of_5_to_50_letters_and_digits_validate(name: str) -> None:
    assert acr(registryName=name).registry_name == name


def test_names_of_vault_and_resource_group_validate() -> None:
    s = acr(keyVaultName="kv-contoso-1", resourceGroup="rg-registry_(prod).eu")
    assert (s.key_vault_name, s.vault_name, s.resource_group) == (
        "kv-contoso-1",
        "kv-contoso-1",
        "rg-registry_(prod).eu",
    )


def test_the_default_vault_name_is_kv_and_the_registry_name() -> None:
    assert acr().vault_name == "kv-contosoregistry"
    long = acr(registryName="Contoso" + "x" * 43).vault_name
    assert long == "kv-contoso" + "x" * 14
    assert len(long) == 24 and not long.endswith("-") and KEY_VAULT_NAME.match(long)


def test_allowed_cidrs_take_addresses_and_ranges_and_empty_means_private() -> None:
    assert acr(allowedCidrs=["203.0.113.0/24", "198.51.100.17"]).allowed_cidrs == ["203.0.113.0/24", "198.51.100.17"]
    private = acr(allowedCidrs=[])
    assert private.allowed_cidrs == [] and private.effective_sku == "Premium"


def test_maintenance_sets_the_purge_schedule_and_it_defaults_to_daily_at_three() -> None:
    assert acr().schedule == "0 3 * * *"
    s = acr(maintenance={"schedule": "30 2 * * 0", "retention": True}, retention={"keepTagged": 10})
    assert s.schedule == "30 2 * * 0"


def test_untagged_days_up_to_365_validate() -> None:
    s = acr(retention={"untaggedDays": 365})
    assert s.retention is not None and s.retention.untagged_days == 365


def test_docker_hub_needs_credentials_stored_as_a_secret() -> None:
    [anonymous] = problems(mirrors=[{"name": "docker-hub", "upstream": "docker.io"}])
    assert "set registry:mirrors[0].username and, with --secret, registry:mirrors[0].accessToken" in anonymous
    [plaintext] = problems(mirrors=[HUB])
    assert plaintext.startswith("registry:mirrors[0].accessToken: a token must be stored encrypted")
    assert "--secret" in plaintext
    s = acr(SECRET_MIRRORS, mirrors=[HUB])
    assert s.mirrors[0].has_credentials and s.mirrors[0].access_token == "dckr_pat_x"


def test_acr_caches_every_upstream_the_intent_keys_know() -> None:
    assert set(UPSTREAMS) <= set(ACR_UPSTREAMS)
    assert set(CREDENTIALS_REQUIRED) <= set(UPSTREAMS)


@pytest.mark.parametrize("upstream", [u for u in UPSTREAMS if u not in CREDENTIALS_REQUIRED])
def test_each_other_upstream_may_be_cached_anonymously(upstream: str) -> None:
    s = acr(mirrors=[{"name": "cache", "upstream": upstream}])
    assert s.mirrors[0].upstream == upstream and not s.mirrors[0].has_credentials and not s.needs_vault


def test_a_customer_managed_key_of_ones_own_needs_no_vault_of_the_stack() -> None:
    s = acr(storage={"encryption": "kms", "keyId": KEY_ID, "keyVaultId": VAULT_ID})
    assert (s.storage.key_id, s.storage.key_vault_id) == (KEY_ID, VAULT_ID)
    assert s.effective_sku == "Premium" and s.needs_vault is False


def test_vault_ids_and_key_ids_compare_vault_names_ignoring_case() -> None:
    upper = VAULT_ID.replace("kv-contoso-keys", "KV-Contoso-Keys").replace("resourceGroups", "resourcegroups")
    assert acr(storage={"encryption": "kms", "keyId": KEY_ID, "keyVaultId": upper}).storage.key_vault_id == upper


@pytest.mark.parametrize(
    ("secret", "changes"),
    [
        pytest.param(frozenset(), {"storage": {"encryption": "kms"}}, id="created-key"),
        pytest.param(
            frozenset(),
            {"signing": {"enabled": True}, "access": [{"repositories": ["*"], "push": [CI]}]},
            id="signing",
        ),
        pytest.param(SECRET_MIRRORS, {"mirrors": [HUB]}, id="mirror-credentials"),
    ],
)
def test_the_stacks_vault_holds_created_keys_and_mirror_credentials(
    secret: frozenset[str], changes: dict[str, Any]
) -> None:
    assert acr(secret, **changes).needs_vault is True


def test_entra_principals_and_tokens_validate() -> None:
    s = acr(
        access=[
            {"repositories": ["*"], "push": [CI], "pull": [DEPLOY, DEV]},
            {"repositories": ["team-a/*"], "push": [TOKEN]},
            {"repositories": ["team-a/api"], "delete": ["token:cleanup-team-a"]},
        ]
    )
    assert [r.principals("push") for r in s.access] == [[CI], [TOKEN], []]
    assert s.access[2].delete == ["token:cleanup-team-a"]


def test_signing_validates_when_an_entra_principal_may_push() -> None:
    s = acr(signing={"enabled": True}, access=[{"repositories": ["*"], "push": [CI]}])
    assert s.signing.enabled and s.needs_vault


def test_a_token_alone_validates_without_signing() -> None:
    s = acr(access=[{"repositories": ["team-a/*"], "push": [TOKEN]}])
    assert not s.signing.enabled and not s.needs_vault


# ---------------------------------------------------------------- the keys only acr honours, elsewhere

MINIMAL_OTHERS: dict[str, dict[str, str]] = {
    "local": {"registry:target": "local"},
    "ecr": {"registry:target": "ecr", "registry:repositories": '[{"name": "team-a/api"}]'},
    "gar": {
        "registry:target": "gar",
        "registry:location": "europe-west1",
        "registry:repositories": '[{"name": "team-a/api"}]',
    },
}


@pytest.mark.parametrize(
    ("target", "key", "value", "honoured_by"),
    [
        pytest.param("gar", "registryName", "contosoregistry", "target acr", id="registry-name-on-gar"),
        pytest.param("ecr", "registryName", "contosoregistry", "target acr", id="registry-name-on-ecr"),
        pytest.param("local", "registryName", "contosoregistry", "target acr", id="registry-name-on-local"),
        pytest.param("ecr", "allowedCidrs", '["203.0.113.0/24"]', "targets aws, acr", id="allowed-cidrs-on-ecr"),
        pytest.param("gar", "sku", "Premium", "target acr", id="sku-on-gar"),
        pytest.param("ecr", "keyVaultName", "kv-registry", "target acr", id="vault-on-ecr"),
        pytest.param("local", "resourceGroup", "rg-registry", "target acr", id="group-on-local"),
    ],
)
def test_acr_keys_on_other_targets_are_refused_naming_acr(target: str, key: str, value: str, honoured_by: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**MINIMAL_OTHERS[target], f"registry:{key}": value})
    [problem] = caught.value.problems
    assert problem.startswith(f"registry:{key}: only applies to {honoured_by}, not {target}"), problem
    assert f"`pulumi config rm registry:{key}`" in problem


def test_the_azure_native_namespace_is_not_taken_for_a_misspelled_one() -> None:
    s = load_settings({**raw(), "azure-native:location": "westeurope", "azure-native:subscriptionId": "x"})
    assert isinstance(s, AcrSettings)


def test_the_provider_location_may_repeat_registry_location() -> None:
    assert load_settings(raw(**{"azure-native:location": "westeurope"})).target == "acr"


def test_a_frequent_purge_schedule_is_warned_about() -> None:
    settings = acr(maintenance={"schedule": "*/5 * * * *", "retention": True}, retention={"keepTagged": 5})
    assert settings.warnings == [
        "registry:maintenance.schedule (*/5 * * * *) runs every 5 minute(s) at times; each run lists the whole store, "
        "so more often than every 15 minutes mostly repeats the last run: spread it out (e.g. '0 3 * * *')"
    ]
    assert acr().warnings == []
