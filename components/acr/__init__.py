"""`acr`: Azure Container Registry from the same intent.

`deploy` is all `__main__.py` calls; the components live beside it (registry.py)."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi_azure_native import authorization
from pulumi_azure_native.provider import Provider

from components.acr.registry import AcrRegistry, AcrRegistryArgs, refuse_encryption_changes
from components.config import AcrSettings
from components.config.acr import lock_command
from components.renderers.acr import login_steps, signing_commands


def deploy(settings: AcrSettings) -> dict[str, Any]:
    """Provider, registry and outputs for `target: acr`."""
    provider = Provider("registry-azure", location=settings.location)
    options = pulumi.InvokeOptions(provider=provider)
    client = authorization.get_client_config(opts=options)
    refuse_encryption_changes(settings, options)
    registry = AcrRegistry(
        "registry",
        AcrRegistryArgs(settings=settings, subscription_id=client.subscription_id, tenant_id=client.tenant_id),
        opts=pulumi.ResourceOptions(providers={"azure-native": provider}),
    )
    signing: dict[str, Any] = {}
    if registry.signing_key_uri is not None:
        signing["signing"] = registry.signing_key_uri.apply(lambda uri: signing_commands(uri, settings.login_server))
    return {
        **signing,
        "loginServer": registry.login_server,
        "location": settings.location,
        "sku": settings.effective_sku,
        "resourceGroup": registry.resource_group_name,
        "repositories": {r.name: f"{settings.login_server}/{r.name}" for r in settings.repositories},
        "mirrors": registry.mirror_outputs(),
        "tokens": registry.token_outputs(),
        "loginSteps": login_steps(settings.registry_name, settings.login_server),
        "lockCommand": lock_command(settings.registry_name),
        "scanning": registry.scanning_note(),
    }
