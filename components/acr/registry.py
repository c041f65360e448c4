"""`acr`: Azure Container Registry as the managed registry, from the intent keys.

    repositories ──> ACR creates a repository on its first push; the list scopes retention, tokens
                     and access rules (nothing to declare per repository)
    retention    ──> untaggedDays: the registry's retention policy (Premium); keepTagged and
                     protectedTags: an ACR Task on a timer running `acr purge` (renderers/acr.py)
    mirrors      ──> one cache rule each (`<name>/*` from the upstream), with a credential set
                     whose username and token are Key Vault secrets its identity may read
    replication  ──> one geo-replication per region
    access       ──> Entra ID principals: AcrPull / AcrPush / AcrDelete on the registry;
                     tokens: one scope map of exactly the repositories the rules grant them
    storage kms  ──> a user-assigned identity that may use the key, set at creation
    signing      ──> an EC P-256 key in the stack's Key Vault (cosign azurekms://)
    production   ──> a CanNotDelete lock on the registry; vault and keys protected

Role definition ids are Azure's built-in roles ("Azure built-in roles", Containers and Security).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_azure_native import authorization, containerregistry, keyvault, managedidentity, resources

from components.config import AcrSettings, Mirror, Retention
from components.config.access import Action, principals_with, rule_grants
from components.config.acr import ACR_UPSTREAMS, ENTRA_PRINCIPAL, is_token
from components.config.intent import pull_through_outputs
from components.naming import distinct_slugs
from components.renderers.acr import (
    cache_rule_repositories,
    maintenance_task,
    scope_map_actions,
)

ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
ACR_PUSH = "8311e382-0749-4cb8-b61a-304f252e45ec"  # includes pull
ACR_DELETE = "c2f4ef07-c644-48eb-af81-4b1b4947fb11"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
KEY_VAULT_CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"
# data action Microsoft.KeyVault/vaults/*/read: a key's properties and public material, what
# `cosign verify --key azurekms://...` reads (GetKey); no sign, no secret values
KEY_VAULT_READER = "21090545-7ca7-4776-b22c-e363652d74d2"
ROLE_OF: dict[Action, str] = {"pull": ACR_PULL, "push": ACR_PUSH, "delete": ACR_DELETE}
PRINCIPAL_TYPES = {"user": "User", "group": "Group", "servicePrincipal": "ServicePrincipal"}


@dataclass(frozen=True)
class Encryption:
    """The customer-managed key ACR is created with, and the identity it reads the key as."""

    identity: managedidentity.UserAssignedIdentity
    key_uri: pulumi.Input[str]


@dataclass(frozen=True)
class AcrRegistryArgs:
    settings: AcrSettings
    subscription_id: str
    tenant_id: str


class AcrRegistry(pulumi.ComponentResource):
    """Needs an `azure-native` provider from the caller."""

    login_server: pulumi.Output[str]
    resource_group_name: pulumi.Output[str]
    signing_key_uri: pulumi.Output[str] | None

    def __init__(self, name: str, args: AcrRegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("registry:acr:AcrRegistry", name, None, opts)
        s, self._settings, self._name, self._args = args.settings, args.settings, name, args
        self.resource_group_name = self._resource_group()
        self._vault = self._key_vault() if s.needs_vault else None
        self._registry = self._container_registry(*self._encryption_identity())
        self.login_server = self._registry.login_server
        self._who = principal_slugs(p for p in _principals(s) if not is_token(p))
        self._tokens = self._scoped_tokens()
        inside: list[pulumi.Resource] = [*self._assign_roles(), *self._tokens.values()]
        inside += [self._replica(region) for region in (s.replication.regions if s.replication else [])]
        inside += [self._cache_rule(mirror) for mirror in s.mirrors]
        if s.retention is not None:
            inside.append(self._maintenance_task(s.retention))
        self.signing_key_uri = self._signing_key() if s.signing.enabled else None
        if s.production:
            self._delete_lock(inside)
        self.register_outputs({"login_server": self.login_server, "resource_group": self.resource_group_name})

    def _delete_lock(self, inside: Sequence[pulumi.Resource]) -> None:
        """registry:production. A CanNotDelete lock also stops deleting what lives under the registry
        and role assignments on it (lock-resources.md), so it depends on all of them: `pulumi destroy`
        (after production is turned off) removes the lock first. Images are data plane: not locked."""
        authorization.ManagementLockByScope(
            f"{self._name}-delete-lock",
            scope=self._registry.id,
            level=authorization.LockLevel.CAN_NOT_DELETE,
            lock_name="registry-production",
            notes="registry:production: set it to false and run pulumi up before deleting the registry or its parts",
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(inside)),
        )

    # ------------------------------------------------------------ where it lives

    def _common(self) -> dict[str, Any]:
        return {"resource_group_name": self.resource_group_name}

    def _scope(self, resource: str) -> str:
        return f"/subscriptions/{self._args.subscription_id}/{resource}"

    def _role(self, guid: str) -> str:
        return self._scope(f"providers/Microsoft.Authorization/roleDefinitions/{guid}")

    def _guarded(self, *depends: pulumi.Resource) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, protect=self._settings.production, depends_on=list(depends))

    def _resource_group(self) -> pulumi.Output[str]:
        s = self._settings
        if s.resource_group is not None:
            return pulumi.Output.from_input(s.resource_group)
        group = resources.ResourceGroup(
            f"{self._name}-group",
            resource_group_name=s.group_name,
            location=s.location,
            tags=_tags(),
            opts=self._guarded(),
        )
        return group.name

    def _key_vault(self) -> keyvault.Vault:
        """Azure RBAC decides who reads its secrets and keys; purge protection, as a CMK requires."""
        s = self._settings
        return keyvault.Vault(
            f"{self._name}-vault",
            **self._common(),
            vault_name=s.vault_name,
            location=s.location,
            properties=keyvault.VaultPropertiesArgs(
                tenant_id=self._args.tenant_id,
                sku=keyvault.SkuArgs(family=keyvault.SkuFamily.A, name=keyvault.SkuName.STANDARD),
                enable_rbac_authorization=True,
                enable_purge_protection=True,
                soft_delete_retention_in_days=90,
            ),
            tags=_tags(),
            opts=self._guarded(),
        )

    # ------------------------------------------------------------ the registry

    def _encryption_identity(self) -> tuple[Encryption | None, list[pulumi.Resource]]:
        """CMK: a user-assigned identity allowed to use the key before the registry exists (ACR reads
        the key at creation); the key is the one given or one made in the stack's vault."""
        s = self._settings
        if s.storage.encryption != "kms":
            return None, []
        identity = managedidentity.UserAssignedIdentity(
            f"{self._name}-identity",
            **self._common(),
            resource_name_=f"id-{s.registry_name.lower()}",
            location=s.location,
            tags=_tags(),
            opts=self._guarded(),
        )
        scope: pulumi.Input[str]
        key_uri: pulumi.Input[str]
        if s.storage.key_vault_id is not None:
            scope, key_uri = s.storage.key_vault_id, str(s.storage.key_id)
        else:
            assert self._vault is not None  # needs_vault
            key = keyvault.Key(
                f"{self._name}-key",
                **self._common(),
                vault_name=self._vault.name,
                key_name="registry-encryption",
                properties=keyvault.KeyPropertiesArgs(
                    kty="RSA",  # ACR takes RSA or RSA-HSM keys only (tutorial-customer-managed-keys.md)
                    key_size=2048,
                    key_ops=["wrapKey", "unwrapKey"],
                    rotation_policy=keyvault.RotationPolicyArgs(
                        lifetime_actions=[
                            keyvault.LifetimeActionArgs(
                                action=keyvault.ActionArgs(type=keyvault.KeyRotationPolicyActionType.ROTATE),
                                trigger=keyvault.TriggerArgs(time_after_create="P90D"),
                            )
                        ],
                        attributes=keyvault.KeyRotationPolicyAttributesArgs(expiry_time="P2Y"),
                    ),
                ),
                opts=self._guarded(self._vault),
            )
            scope, key_uri = key.id, key.key_uri
        grant = self._assignment(
            "key-identity", scope, KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER, identity.principal_id, "ServicePrincipal"
        )
        return Encryption(identity, key_uri), [grant]

    def _container_registry(
        self, cmk: Encryption | None, grants: Sequence[pulumi.Resource]
    ) -> containerregistry.Registry:
        s = self._settings
        encryption, identities = None, None
        if cmk is not None:
            encryption = containerregistry.EncryptionPropertyArgs(
                status="enabled",
                key_vault_properties=containerregistry.KeyVaultPropertiesArgs(
                    key_identifier=cmk.key_uri, identity=cmk.identity.client_id
                ),
            )
            identities = containerregistry.IdentityPropertiesArgs(
                type=containerregistry.ResourceIdentityType.USER_ASSIGNED,
                user_assigned_identities=cmk.identity.id.apply(
                    lambda i: {i: containerregistry.UserIdentityPropertiesArgs()}
                ),
            )
        return containerregistry.Registry(
            f"{self._name}-acr",
            **self._common(),
            registry_name=s.registry_name,
            location=s.location,
            sku=containerregistry.SkuArgs(name=containerregistry.SkuName(s.effective_sku)),
            admin_user_enabled=False,
            anonymous_pull_enabled=False,
            **_network(s),
            encryption=encryption,
            identity=identities,
            policies=_policies(s),
            tags=_tags(),
            opts=self._guarded(*grants),
        )

    def _replica(self, region: str) -> containerregistry.Replication:
        """Zone redundancy is not set: ACR makes every registry and replication zone redundant where
        the region has zones, and the property no longer controls it (zone-redundancy.md)."""
        return containerregistry.Replication(
            f"{self._name}-replica-{region}",
            **self._common(),
            registry_name=self._registry.name,
            replication_name=region,
            location=region,
            region_endpoint_enabled=True,
            tags=_tags(),
            opts=self._guarded(),
        )

    # ------------------------------------------------------------ access

    def _assignment(
        self, label: str, scope: pulumi.Input[str], role: str, principal: pulumi.Input[str], kind: str
    ) -> authorization.RoleAssignment:
        return authorization.RoleAssignment(
            f"{self._name}-{label}",
            scope=scope,
            role_definition_id=self._role(role),
            principal_id=principal,
            principal_type=kind,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _assign_roles(self) -> list[authorization.RoleAssignment]:
        """Rules on ['*'] (the only patterns Entra ID principals may have): one role assignment per
        (principal, action) on the registry."""
        granted = dict.fromkeys(
            (g.principal, g.action) for g in rule_grants(self._settings.access) if not is_token(g.principal)
        )
        assignments = []
        for principal, action in granted:
            kind, object_id = _entra(principal)
            label = f"{action}-{self._who[principal]}"
            assignments.append(self._assignment(label, self._registry.id, ROLE_OF[action], object_id, kind))
        return assignments

    def _scoped_tokens(self) -> dict[str, containerregistry.Token]:
        """token:<name> principals: a scope map of the actions the rules grant it, then the token.
        Its passwords are generated afterwards (`az acr token credential generate`): never in state."""
        tokens: dict[str, containerregistry.Token] = {}
        for token in [p.removeprefix("token:") for p in _principals(self._settings) if is_token(p)]:
            scope = containerregistry.ScopeMap(
                f"{self._name}-scope-{token}",
                **self._common(),
                registry_name=self._registry.name,
                scope_map_name=token,
                description=f"registry:access grants of token:{token}",
                actions=scope_map_actions(self._settings.access, f"token:{token}"),
                opts=pulumi.ResourceOptions(parent=self),
            )
            tokens[token] = containerregistry.Token(
                f"{self._name}-token-{token}",
                **self._common(),
                registry_name=self._registry.name,
                token_name=token,
                scope_map_id=scope.id,
                status="enabled",
                opts=pulumi.ResourceOptions(parent=self),
            )
        return tokens

    # ------------------------------------------------------------ mirrors

    def _vault_secret(self, label: str, secret_name: str, value: pulumi.Input[str]) -> keyvault.Secret:
        assert self._vault is not None  # needs_vault: a mirror with credentials
        return keyvault.Secret(
            f"{self._name}-{label}",
            **self._common(),
            vault_name=self._vault.name,
            secret_name=secret_name,
            properties=keyvault.SecretPropertiesArgs(value=value),
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["properties"]),
        )

    def _cache_rule(self, mirror: Mirror) -> containerregistry.CacheRule:
        """A cache rule from the upstream into `<name>/...`; with credentials, a credential set whose
        system-assigned identity may read exactly its two secrets (Key Vault Secrets User)."""
        credential_set: pulumi.Output[str] | None = None
        depends: list[pulumi.Resource] = []
        if mirror.has_credentials:
            username = self._vault_secret(
                f"{mirror.name}-username", f"{mirror.name}-username", pulumi.Output.secret(str(mirror.username))
            )
            token = self._vault_secret(
                f"{mirror.name}-token", f"{mirror.name}-token", pulumi.Output.secret(str(mirror.access_token))
            )
            credentials = containerregistry.CredentialSet(
                f"{self._name}-{mirror.name}-credentials",
                **self._common(),
                registry_name=self._registry.name,
                credential_set_name=mirror.name,
                login_server=ACR_UPSTREAMS[mirror.upstream],
                identity=containerregistry.IdentityPropertiesArgs(
                    type=containerregistry.ResourceIdentityType.SYSTEM_ASSIGNED
                ),
                auth_credentials=[
                    containerregistry.AuthCredentialArgs(
                        name="Credential1",
                        username_secret_identifier=username.properties.secret_uri,
                        password_secret_identifier=token.properties.secret_uri,
                    )
                ],
                opts=pulumi.ResourceOptions(parent=self),
            )
            principal = credentials.identity.apply(lambda i: str(i.principal_id) if i else "")
            depends = [
                self._assignment(
                    f"{mirror.name}-{kind}-reader", secret.id, KEY_VAULT_SECRETS_USER, principal, "ServicePrincipal"
                )
                for kind, secret in (("username", username), ("token", token))
            ]
            credential_set = credentials.id
        source, target = cache_rule_repositories(mirror)
        return containerregistry.CacheRule(
            f"{self._name}-{mirror.name}",
            **self._common(),
            registry_name=self._registry.name,
            cache_rule_name=mirror.name,
            source_repository=source,
            target_repository=target,
            credential_set_resource_id=credential_set,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
        )

    # ------------------------------------------------------------ retention, signing

    def _maintenance_task(self, retention: Retention) -> containerregistry.Task:
        s = self._settings
        task = maintenance_task(retention, [r.name for r in s.repositories], [m.name for m in s.mirrors])
        return containerregistry.Task(
            f"{self._name}-maintenance",
            **self._common(),
            registry_name=self._registry.name,
            task_name="registry-maintenance",
            location=s.location,
            platform=containerregistry.PlatformPropertiesArgs(os="Linux", architecture="amd64"),
            agent_configuration=containerregistry.AgentPropertiesArgs(cpu=2),
            step=containerregistry.EncodedTaskStepArgs(
                type="EncodedTask", encoded_task_content=base64.b64encode(task.encode()).decode()
            ),
            trigger=containerregistry.TriggerPropertiesArgs(
                timer_triggers=[
                    containerregistry.TimerTriggerArgs(name="maintenance", schedule=s.schedule, status="Enabled")
                ]
            ),
            status="Enabled",
            timeout=3600,
            is_system_task=False,
            tags=_tags(),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _signing_key(self) -> pulumi.Output[str]:
        """An EC P-256 key cosign signs with as azurekms://<vault>.vault.azure.net/<key> (sigstore
        pkg/signature/kms/azure client.go); Entra ID principals who may push somewhere sign (Key
        Vault Crypto User: sign, verify, get), those who may only pull read the public key."""
        s = self._settings
        assert self._vault is not None
        key = keyvault.Key(
            f"{self._name}-signing-key",
            **self._common(),
            vault_name=self._vault.name,
            key_name="cosign",
            properties=keyvault.KeyPropertiesArgs(kty="EC", curve_name="P-256", key_ops=["sign", "verify"]),
            opts=self._guarded(self._vault),
        )
        signers = [p for p in principals_with(s.access, "push") if not is_token(p)]
        verifiers = [p for p in principals_with(s.access, "pull") if not is_token(p) and p not in signers]
        for role, label, who in ((KEY_VAULT_CRYPTO_USER, "sign", signers), (KEY_VAULT_READER, "verify", verifiers)):
            for principal in who:
                kind, object_id = _entra(principal)
                self._assignment(f"signing-{label}-{self._who[principal]}", key.id, role, object_id, kind)
        return key.key_uri

    # ------------------------------------------------------------ outputs

    def mirror_outputs(self) -> dict[str, dict[str, str]]:
        server = self._settings.login_server
        return pull_through_outputs(self._settings.mirrors, lambda name: f"{server}/{name}")

    def token_outputs(self) -> dict[str, str]:
        """How to give each token a password (shown once, never stored by the stack)."""
        s = self._settings
        return {
            token: f"az acr token credential generate --registry {s.registry_name} --resource-group {s.group_name} "
            f"--name {token} --password1 --expiration-in-days 90"
            for token in self._tokens
        }

    def scanning_note(self) -> str:
        if not (self._settings.scanning.on_push or self._settings.scanning.continuous):
            return "off"
        return (
            "ACR does not scan; Microsoft Defender for Containers does, per subscription: "
            "az security pricing create --name Containers --tier standard"
        )


def _principals(settings: AcrSettings) -> list[str]:
    return list(dict.fromkeys(g.principal for g in rule_grants(settings.access)))


def _entra(principal: str) -> tuple[str, str]:
    """(principal type, object id) of `user|group|servicePrincipal:<object id>`."""
    match = ENTRA_PRINCIPAL.match(principal)
    assert match is not None, principal  # validated in config
    return PRINCIPAL_TYPES[match["type"]], match["id"]


def _tags() -> dict[str, str]:
    return {"managed-by": "pulumi", "stack": pulumi.get_stack().lower()}


def _network(s: AcrSettings) -> dict[str, Any]:
    """Unset: public; a list: only those ranges (a network rule set, Premium); empty: private."""
    if s.allowed_cidrs is None:
        return {"public_network_access": "Enabled"}
    if not s.allowed_cidrs:
        return {"public_network_access": "Disabled", "network_rule_bypass_options": "AzureServices"}
    return {
        "public_network_access": "Enabled",
        "network_rule_bypass_options": "AzureServices",
        "network_rule_set": containerregistry.NetworkRuleSetArgs(
            default_action="Deny",
            ip_rules=[
                containerregistry.IPRuleArgs(i_p_address_or_range=cidr, action="Allow") for cidr in s.allowed_cidrs
            ],
        ),
    }


def _policies(s: AcrSettings) -> containerregistry.PoliciesArgs:
    retention = None
    if s.untagged_policy and s.retention is not None:
        retention = containerregistry.RetentionPolicyArgs(days=s.retention.untagged_days, status="enabled")
    return containerregistry.PoliciesArgs(
        retention_policy=retention,
        export_policy=containerregistry.ExportPolicyArgs(status="disabled") if s.effective_sku == "Premium" else None,
    )


def principal_slugs(principals: Iterable[str]) -> dict[str, str]:
    """The part of resource names that stands for each Entra ID principal: its type and the first
    8 hex of its object id; where two come out the same, the whole object id."""

    def named(principal: str, length: int | None) -> str:
        kind, object_id = _entra(principal)
        return f"{kind.lower()}-{object_id[:length]}"

    return distinct_slugs(principals, lambda p: named(p, 8), lambda p: named(p, None))


def refuse_encryption_changes(settings: AcrSettings, options: pulumi.InvokeOptions) -> None:
    """Encryption is fixed when ACR creates a registry: a change would need a new registry (and
    moving every image). An existing registry of the name is looked up; none found is fine."""
    try:
        found = containerregistry.get_registry(
            registry_name=settings.registry_name, resource_group_name=settings.group_name, opts=options
        )
    except Exception as error:  # the invoke fails for a registry (or group) that does not exist yet
        if "NotFound" in str(error):
            return
        raise
    current = found.encryption.status if found.encryption is not None else "disabled"
    wanted = "enabled" if settings.storage.encryption == "kms" else "disabled"
    if str(current).lower() != wanted:
        raise pulumi.RunError(
            f"registry:storage.encryption: registry {settings.registry_name} was created with "
            f"{'a customer-managed key' if wanted == 'disabled' else 'Microsoft-managed keys'}; ACR fixes encryption "
            "at creation and replacing the registry would delete its images. Set registry:storage back, or deploy "
            "a registry of a new registry:registryName and import the images (az acr import)"
        )
