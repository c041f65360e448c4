"""`acr`: Azure Container Registry as the managed registry, from the intent keys.

What each key means on ACR (README, "acr"), and what ACR cannot do, is decided here so that a
config ACR cannot honour fails before anything is declared: a feature the SKU lacks names the SKU
that has it ("Azure Container Registry service tiers", container-registry-skus.md).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from components.config.access import ACTIONS, EVERY_REPOSITORY, AccessRules, check_rules, principals_with
from components.config.base import Model, RuleViolation
from components.config.intent import IntentKeys, unique
from components.config.maintenance import Maintenance

Sku = Literal["Basic", "Standard", "Premium"]
SKUS: tuple[Sku, ...] = ("Basic", "Standard", "Premium")
# Azure public-cloud regions (`az account list-locations --query "[?metadata.regionType=='Physical'].name"`)
_REGIONS = """
    australiacentral australiacentral2 australiaeast australiasoutheast austriaeast belgiumcentral brazilsouth
    brazilsoutheast canadacentral canadaeast centralindia centralus chilecentral denmarkeast eastasia eastus
    eastus2 francecentral francesouth germanynorth germanywestcentral indonesiacentral israelcentral italynorth
    japaneast japanwest jioindiacentral jioindiawest koreacentral koreasouth malaysiawest mexicocentral
    newzealandnorth northcentralus northeurope norwayeast norwaywest polandcentral qatarcentral southafricanorth
    southafricawest southcentralus southindia southeastasia spaincentral swedencentral switzerlandnorth
    switzerlandwest uaecentral uaenorth uksouth ukwest westcentralus westeurope westindia westus westus2 westus3
"""
AZURE_REGIONS = frozenset(_REGIONS.split())
# registry names: 5-50 alphanumerics, globally unique (they become <name>.azurecr.io)
REGISTRY_NAME = re.compile(r"^[a-zA-Z0-9]{5,50}$")
RESOURCE_GROUP = re.compile(r"^[\w.()-]{0,89}[\w()-]$")
# Key Vault names: 3-24 letters, digits and '-', starting with a letter, no '--', not ending in '-'
KEY_VAULT_NAME = re.compile(r"^(?!.*--)[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")
KEY_VAULT_KEY_ID = re.compile(r"^https://(?P<vault>[a-zA-Z0-9-]{3,24})\.vault\.azure\.net/keys/[a-zA-Z0-9-]{1,127}$")
KEY_VAULT_ID = re.compile(
    r"^/subscriptions/[0-9a-f-]{36}/resourceGroups/[\w.()-]+/providers/Microsoft\.KeyVault/vaults/"
    r"(?P<vault>[a-zA-Z0-9-]{3,24})$",
    re.IGNORECASE,
)
# Entra ID principals: the object id, with the principal type a role assignment records
ENTRA_PRINCIPAL = re.compile(
    r"^(?P<type>user|group|servicePrincipal):(?P<id>[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12})$"
)
# a repository-scoped token (scope map actions), named as ACR names tokens: 5-50 alphanumerics and '-'
TOKEN_PRINCIPAL = re.compile(r"^token:(?P<name>[a-zA-Z0-9-]{5,50})$")
# Upstreams ACR artifact cache takes, as the login server its cache rule's source and credential
# set name (container-registry-artifact-cache.md, "Upstream support").
ACR_UPSTREAMS = {
    "docker.io": "docker.io",
    "ghcr.io": "ghcr.io",
    "quay.io": "quay.io",
    "registry.k8s.io": "registry.k8s.io",
    "public.ecr.aws": "public.ecr.aws",
    "gcr.io": "gcr.io",
}
# the service refuses a Docker Hub cache rule without a credential set ("EnforceDockerAuthentication:
# Cannot create cache rule pointing to Docker Hub without credentials", hashicorp/terraform-provider-azurerm#27983)
CREDENTIALS_REQUIRED = frozenset({"docker.io"})
MAX_IP_RULES = 200  # network rule set IP rules per registry (container-registry-skus.md, limits)
RETENTION_DAYS = 365  # the untagged-manifest retention policy takes 0-365 days
DEFAULT_SCHEDULE = "0 3 * * *"  # the maintenance task's timer when registry:maintenance does not set one


def lock_command(registry_name: str) -> str:
    """How a pipeline makes a pushed tag immutable: a lock, set through the registry's data API
    (container-registry-image-lock.md); Resource Manager has no resource for it."""
    return f"az acr repository update --name {registry_name} --image <repository>:<tag> --write-enabled false"


def principal_problem(principal: str) -> str | None:
    """None for a principal an acr access rule may name, else what is wrong."""
    if ENTRA_PRINCIPAL.match(principal) or TOKEN_PRINCIPAL.match(principal):
        return None
    return (
        "is not an acr principal; name an Entra ID object (servicePrincipal:<object id>, group:<object id>, "
        "user:<object id>) or a repository-scoped token (token:<name>, 5-50 letters, digits and '-')"
    )


def is_token(principal: str) -> bool:
    return principal.startswith("token:")


class AcrStorage(Model):
    """How ACR encrypts the images: Microsoft-managed keys, or a customer-managed key in Key Vault."""

    encryption: Literal["microsoft", "kms"] = Field("microsoft", description="fixed at creation")
    key_id: str | None = Field(None, description="versionless key id https://<vault>.vault.azure.net/keys/<name>")
    key_vault_id: str | None = Field(None, description="the ARM id of key_id's vault, to grant the identity on")

    @field_validator("key_id")
    @classmethod
    def _versionless(cls, key_id: str | None) -> str | None:
        if key_id is not None and not KEY_VAULT_KEY_ID.match(key_id):
            raise ValueError(
                f"{key_id!r} is not a versionless Key Vault key id (https://<vault>.vault.azure.net/keys/<name>); "
                "leave the version out so ACR follows the key's rotation"
            )
        return key_id

    @model_validator(mode="after")
    def _key_and_vault(self) -> AcrStorage:
        if (self.key_id is not None or self.key_vault_id is not None) and self.encryption != "kms":
            raise RuleViolation(
                "storage.keyId", "is only used with encryption 'kms'; set storage.encryption to kms or remove it"
            )
        if (self.key_id is None) != (self.key_vault_id is None):
            raise RuleViolation(
                "storage.keyVaultId",
                "storage.keyId and storage.keyVaultId go together (the registry's identity is granted on that "
                "vault); set both, or neither and the stack creates the key",
            )
        if self.key_id is not None and self.key_vault_id is not None:
            vault = KEY_VAULT_ID.match(self.key_vault_id)
            if vault is None:
                raise RuleViolation(
                    "storage.keyVaultId",
                    f"({self.key_vault_id}) is not a Key Vault resource id (/subscriptions/<id>/resourceGroups/<group>"
                    "/providers/Microsoft.KeyVault/vaults/<name>)",
                )
            key_vault = KEY_VAULT_KEY_ID.match(self.key_id)
            if key_vault is not None and key_vault["vault"].lower() != vault["vault"].lower():
                raise RuleViolation(
                    "storage.keyVaultId",
                    f"names vault {vault['vault']}, but storage.keyId is in vault {key_vault['vault']}; name the same vault",
                )
        return self


class AcrReplication(Model):
    """Geo-replications: a full copy of the registry in each region, served under the same name."""

    regions: list[str] = Field(min_length=1, max_length=50, description="Azure regions, e.g. northeurope")

    @field_validator("regions")
    @classmethod
    def _known_regions(cls, regions: list[str]) -> list[str]:
        for region in regions:
            if region not in AZURE_REGIONS:
                raise ValueError(f"{region!r} is not an Azure region name (for example northeurope, eastus2)")
        return unique(regions, "region")


class AcrSettings(IntentKeys):
    """`acr`: one registry; repositories appear on push; retention and locks run as an ACR Task."""

    target: Literal["acr"]
    location: str = Field(description="the Azure region of the registry, e.g. westeurope")
    registry_name: str = Field(description="5-50 letters and digits, globally unique: <name>.azurecr.io")
    resource_group: str | None = Field(None, description="an existing resource group; else one is created")
    sku: Sku | None = Field(None, description="Basic, Standard or Premium; unset: the least that does what is asked")
    allowed_cidrs: list[str] | None = Field(
        None, max_length=MAX_IP_RULES, description="unset: public; [...]: only these (Premium); []: private"
    )
    storage: AcrStorage = AcrStorage()
    key_vault_name: str | None = Field(None, description="the stack's Key Vault; default kv-<registryName>")
    replication: AcrReplication | None = None  # type: ignore[assignment]  # Azure regions, not AWS ones
    # Entra ID role assignments on the registry (every repository) and repository-scoped tokens
    access: AccessRules = Field(default_factory=list)
    # when the ACR Task that applies retention (acr purge) runs; the default is daily at 03:00 UTC
    maintenance: Maintenance | None = None
    production: bool = Field(False, description="a delete lock on the registry; keys and vault protected")

    @field_validator("location")
    @classmethod
    def _known_location(cls, location: str) -> str:
        if location not in AZURE_REGIONS:
            raise ValueError(f"{location!r} is not an Azure region name; use one such as westeurope or eastus2")
        return location

    @field_validator("registry_name")
    @classmethod
    def _valid_registry_name(cls, name: str) -> str:
        if not REGISTRY_NAME.match(name):
            raise ValueError(f"{name!r} is not an ACR name: 5-50 letters and digits, no '-' (<name>.azurecr.io)")
        return name

    @field_validator("resource_group")
    @classmethod
    def _valid_resource_group(cls, name: str | None) -> str | None:
        if name is not None and not RESOURCE_GROUP.match(name):
            raise ValueError(f"{name!r} is not a resource group name: 1-90 letters, digits, '_', '-', '.', '(' or ')'")
        return name

    @field_validator("key_vault_name")
    @classmethod
    def _valid_vault_name(cls, name: str | None) -> str | None:
        if name is not None and not KEY_VAULT_NAME.match(name):
            raise ValueError(
                f"{name!r} is not a Key Vault name: 3-24 letters, digits and '-', starting with a letter, "
                "no '--', not ending in '-'"
            )
        return name

    @field_validator("allowed_cidrs")
    @classmethod
    def _public_ipv4_ranges(cls, cidrs: list[str] | None) -> list[str] | None:
        for cidr in cidrs or []:
            try:
                network = ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                raise ValueError(f"{cidr!r} is not an IPv4 address or CIDR range (203.0.113.0/24)") from None
            if network.version != 4:
                raise ValueError(f"{cidr!r}: ACR network rules take IPv4 only")
            if network.prefixlen == 0:
                raise ValueError(f"{cidr!r} admits everyone; leave registry:allowedCidrs unset for a public registry")
        return unique(cidrs, "range") if cidrs is not None else None

    @property
    def login_server(self) -> str:
        """What clients push to and pull from: <registryName>.azurecr.io, lowercase."""
        return f"{self.registry_name.lower()}.azurecr.io"

    @property
    def group_name(self) -> str:
        """The resource group: the one given, or rg-<registryName> that the stack creates."""
        return self.resource_group or f"rg-{self.registry_name.lower()}"

    @property
    def vault_name(self) -> str:
        return self.key_vault_name or f"kv-{self.registry_name.lower()}"[:24].rstrip("-")

    @property
    def needs_vault(self) -> bool:
        """The stack's own Key Vault holds mirror credentials, the created CMK key and the signing key."""
        created_key = self.storage.encryption == "kms" and self.storage.key_id is None
        return created_key or self.signing.enabled or any(m.has_credentials for m in self.mirrors)

    @property
    def premium_features(self) -> dict[str, str]:
        """Each setting asked for that only Premium has: setting -> what it is."""
        wanted = {
            "replication": ("geo-replication", self.replication is not None),
            "allowedCidrs": ("network rules or private access", self.allowed_cidrs is not None),
            "storage.encryption": ("customer-managed keys", self.storage.encryption == "kms"),
        }
        return {key: what for key, (what, asked) in wanted.items() if asked}

    @property
    def untagged_policy(self) -> bool:
        """retention.untaggedDays also as ACR's own retention policy: Premium only, Docker manifests
        only, counted from untagging (container-registry-retention-policy.md); the purge task's
        --untagged-only covers the rest."""
        r = self.retention
        return r is not None and r.untagged_days is not None and not r.dry_run and self.effective_sku == "Premium"

    @property
    def effective_sku(self) -> Sku:
        if self.sku is not None:
            return self.sku
        return "Premium" if self.premium_features else "Standard"

    @model_validator(mode="after")
    def _sku_has_the_features(self) -> AcrSettings:
        if self.sku is None or self.sku == "Premium":
            return self
        key, what = next(iter(self.premium_features.items()), ("", ""))
        if key:
            raise RuleViolation(
                key, f"needs {what}, which ACR offers on the Premium SKU only; set registry:sku to Premium or remove it"
            )
        return self

    @model_validator(mode="after")
    def _acr_rules(self) -> AcrSettings:
        if self.replication is not None and self.location in self.replication.regions:
            i = self.replication.regions.index(self.location)
            raise RuleViolation(
                f"replication.regions[{i}]",
                f"({self.location}) is registry:location, where the registry lives already; list other regions",
            )
        if self.maintenance is not None and self.maintenance.gc:
            raise RuleViolation(
                "maintenance.gc",
                "ACR frees the storage of deleted manifests itself; there is no garbage collection to run "
                "(only targets local and aws honour it): remove it",
            )
        untagged_days = self.retention.untagged_days if self.retention is not None else None
        if untagged_days is not None and untagged_days > RETENTION_DAYS:
            raise RuleViolation(
                "retention.untaggedDays", f"ACR keeps untagged manifests at most {RETENTION_DAYS} days; lower it"
            )
        for i, mirror in enumerate(self.mirrors):
            if mirror.upstream not in ACR_UPSTREAMS:
                raise RuleViolation(
                    f"mirrors[{i}].upstream",
                    f"({mirror.upstream}) ACR artifact cache cannot cache it (upstreams: {', '.join(ACR_UPSTREAMS)})",
                )
            if mirror.upstream in CREDENTIALS_REQUIRED and not mirror.has_credentials:
                raise RuleViolation(
                    f"mirrors[{i}].accessToken",
                    f"({mirror.name}) ACR caches {mirror.upstream} only with credentials (the service refuses the "
                    f"rule: EnforceDockerAuthentication): set registry:mirrors[{i}].username and, with --secret, "
                    f"registry:mirrors[{i}].accessToken",
                )
        return self

    @model_validator(mode="after")
    def _no_push_time_immutability(self) -> AcrSettings:
        """ACR has no setting that refuses a push moving a tag: a lock (writeEnabled false) is set per
        tag through the registry's data API once the tag exists (container-registry-image-lock.md),
        never by Resource Manager, so the default immutableTags true cannot be honoured."""
        lock = f"lock each released tag from your pipeline instead: {lock_command(self.registry_name)} (output lockCommand)"
        keys: list[tuple[str, bool | None]] = [("immutableTags", self.immutable_tags)]
        keys += [(f"repositories[{i}].immutableTags", r.immutable_tags) for i, r in enumerate(self.repositories)]
        for key, immutable in keys:
            if immutable:
                raise RuleViolation(
                    key,
                    "ACR cannot refuse a push that moves a tag (it has no tag immutability; targets ecr and gar "
                    f"do): set registry:immutableTags false (and remove repositories[].immutableTags) and {lock}",
                )
        if self.mutable_tags:
            raise RuleViolation("mutableTags", "nothing is immutable on acr, so no tag needs an exemption; remove it")
        return self

    @model_validator(mode="after")
    def _access_rules_hold(self) -> AcrSettings:
        check_rules(self.access, principal_problem=principal_problem, repositories=[r.name for r in self.repositories])
        for i, rule in enumerate(self.access):
            for j, pattern in enumerate(rule.repositories):
                if pattern.endswith("*") and pattern != EVERY_REPOSITORY and not pattern.endswith("/*"):
                    raise RuleViolation(
                        f"access[{i}].repositories[{j}]",
                        f"({pattern}) ACR scope maps take a repository, a path ending in '/*' (team-a/*) or '*' "
                        "(container-registry-token-based-repository-permissions.md, wildcards); use one of those",
                    )
            if rule.repositories == [EVERY_REPOSITORY]:
                continue
            for action in ACTIONS:
                for j, principal in enumerate(rule.principals(action)):
                    if not is_token(principal):
                        raise RuleViolation(
                            f"access[{i}].{action}[{j}]",
                            f"({principal}) an Azure role assignment on the registry covers every repository, but "
                            f"this rule names {', '.join(rule.repositories)}; grant it on repositories ['*'], or "
                            "name a repository-scoped token (token:<name>) here",
                        )
        return self

    @model_validator(mode="after")
    def _someone_signs(self) -> AcrSettings:
        signers = [p for p in principals_with(self.access, "push") if not is_token(p)]
        if self.signing.enabled and not signers:
            raise RuleViolation(
                "access",
                "grants no Entra ID principal push, so nobody could sign with the Key Vault key (who may push "
                "signs, who may pull verifies; tokens cannot use Key Vault); list your CI's service principal "
                "under push in a registry:access rule on ['*'] or set signing.enabled to false",
            )
        return self

    @property
    def warnings(self) -> list[str]:
        return list(self.maintenance.warnings) if self.maintenance is not None else []

    @property
    def schedule(self) -> str:
        return self.maintenance.schedule if self.maintenance is not None else DEFAULT_SCHEDULE
