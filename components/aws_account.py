"""What every AWS-backed target (aws, ecr) starts from: the region it deploys to, and providers
that tag every resource with the project and stack."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.config import AWS_REGION


def deploy_region() -> str:
    """`aws:region`, refused with the fix when missing or malformed (before anything is declared)."""
    region = pulumi.Config("aws").get("region")
    if not region or not AWS_REGION.match(region):
        raise pulumi.RunError(
            f"aws:region is {region!r}; set the region to deploy to: `pulumi config set aws:region eu-west-1`"
        )
    return region


def tagged_provider(name: str, region: str) -> aws.Provider:
    """An aws provider whose default tags say which project and stack own a resource."""
    tags = {"project": pulumi.get_project(), "stack": pulumi.get_stack(), "managed-by": "pulumi"}
    return aws.Provider(name, region=region, default_tags=aws.ProviderDefaultTagsArgs(tags=tags))
