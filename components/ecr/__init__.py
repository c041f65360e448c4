"""`ecr`: AWS ECR from the same intent.

`deploy` is all `__main__.py` calls; the components live beside it (registry.py)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws_account import deploy_region, tagged_provider
from components.aws_signing import signing_outputs
from components.config import EcrSettings
from components.config.access import signers_and_verifiers
from components.ecr.registry import EcrRegistry, EcrRegistryArgs, refuse_encryption_changes


def deploy(settings: EcrSettings) -> dict[str, Any]:
    """Provider, registry and outputs for `target: ecr`."""
    region = deploy_region()
    if settings.replication is not None and region in settings.replication.regions:
        raise pulumi.RunError(
            f"registry:replication.regions: {region} is aws:region itself; list other regions to replicate to"
        )
    key_region = settings.storage.kms_key_arn.split(":")[3] if settings.storage.kms_key_arn else region
    if key_region != region:
        raise pulumi.RunError(
            f"registry:storage.kmsKeyArn: the key is in {key_region}, the repositories in {region} (aws:region); "
            f"ECR encrypts only with a key of its own region: name a key in {region}, or leave kmsKeyArn out and "
            "one is created"
        )
    provider = tagged_provider("registry-aws", region)
    refuse_encryption_changes(settings, provider)
    account = aws.get_caller_identity(opts=pulumi.InvokeOptions(provider=provider)).account_id
    registry = EcrRegistry(
        "registry",
        EcrRegistryArgs(settings=settings, region=region, account_id=account),
        opts=pulumi.ResourceOptions(providers={"aws": provider}),
    )
    signing: dict[str, Any] = {}
    if settings.signing.enabled:
        signers, verifiers = signers_and_verifiers(settings.access)
        signing = signing_outputs(
            account_id=account,
            signers=signers,
            verifiers=verifiers,
            registry=registry.registry_url,
            region=region,
            provider=provider,
        )
    return {
        **signing,
        "registryUrl": registry.registry_url,
        "region": region,
        "repositories": registry.repository_urls,
        "mirrors": registry.mirror_outputs(),
        "loginCommand": (
            f"aws ecr get-login-password --region {region} | "
            f"docker login --username AWS --password-stdin {registry.registry_url}"
        ),
    }
