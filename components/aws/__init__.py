"""The `aws` target: an HA registry on ECS Fargate behind an ALB, with ElastiCache and S3.

One module per purpose; `registry.py` composes them, `deploy` wires providers and outputs. Type
tokens stay `registry:aws_<purpose>:...` as they were before the package existed, so no resource's
URN changed (tests/components/test_urns.py).

With registry:regions, `deploy` builds the primary as always ("registry"), then each secondary as the
same component in its secondary role ("registry-<region>", under an aws provider for that region),
then the Route 53 records that join them (AwsRegionsDns).
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.aws.regions import AwsRegionsDns, AwsRegionsDnsArgs, RegionEndpoint
from components.aws.registry import AwsRegistry, AwsRegistryArgs
from components.aws_account import deploy_region, tagged_provider
from components.aws_signing import signing_outputs
from components.config import AwsSettings
from components.credentials import Credentials, CredentialsArgs
from components.endpoint import endpoint_outputs, login_command
from components.renderers.distribution import REGISTRY_ROOT
from components.renderers.mirrors import mirror_outputs
from components.tls import Tls, TlsArgs


def deploy(settings: AwsSettings) -> dict[str, Any]:
    """Providers, shared pieces and the registry for `target: aws`; returns the stack outputs."""
    region = deploy_region()
    _check_regions(settings, region)
    provider = tagged_provider("registry-aws", region)
    replica_provider = None
    if settings.storage.replica_region is not None:
        replica_provider = tagged_provider("registry-aws-replica", settings.storage.replica_region)
    secondaries = settings.regions.secondaries if settings.regions is not None else []
    secondary_providers = {r: tagged_provider(f"registry-aws-{r}", r) for r in secondaries}

    creds = Credentials("registry-credentials", CredentialsArgs(users=list(settings.users)))
    cert = Tls("registry-tls", TlsArgs.for_settings(settings))
    family = f"registry-{pulumi.get_stack()}"
    registry = AwsRegistry(
        "registry",
        AwsRegistryArgs(
            settings=settings,
            region=region,
            family=family,
            credentials=creds,
            tls=cert,
            replica_provider=replica_provider,
            secondary_providers=secondary_providers,
        ),
        opts=pulumi.ResourceOptions(providers={"aws": provider}),
    )
    replicas = {
        r: AwsRegistry(
            f"registry-{r}",
            AwsRegistryArgs(
                settings=settings,
                region=r,
                family=family,
                credentials=creds,
                tls=cert,
                secondary=registry.secondary_regions[r],
            ),
            opts=pulumi.ResourceOptions(providers={"aws": secondary_providers[r]}),
        )
        for r in secondaries
    }
    outputs = _outputs(settings, registry, creds, cert, region)
    if settings.regions is not None:
        _regions_dns(settings, region, registry, replicas, provider)
        outputs["regions"] = regions_output(settings, region, registry, replicas)
        outputs["maintenance"]["regions"] = outputs["regions"]
    if settings.signing.enabled:
        outputs |= signing_outputs(
            account_id=registry.account_id,
            signers=settings.signing.signers,
            verifiers=settings.signing.verifiers,
            registry=settings.domain,
            region=region,
            provider=provider,
            protect=settings.production,
        )
    return outputs


def _check_regions(settings: AwsSettings, region: str) -> None:
    """What the config model cannot know: aws:region (refused before anything is declared)."""
    replica_region = settings.storage.replica_region
    if replica_region == region:
        raise pulumi.RunError(
            f"registry:storage.replicaRegion ({replica_region}) equals aws:region; pick another region or remove it"
        )
    regions = settings.regions
    if regions is not None and regions.primary != region:
        raise pulumi.RunError(
            f"registry:regions.primary ({regions.primary}) is not aws:region ({region}): the primary is where the "
            "stack deploys; set one to the other (`pulumi config set aws:region "
            f"{regions.primary}` or `pulumi config set --path registry:regions.primary {region}`)"
        )


def _regions_dns(
    settings: AwsSettings,
    region: str,
    primary: AwsRegistry,
    secondaries: dict[str, AwsRegistry],
    provider: pulumi.ProviderResource,
) -> AwsRegionsDns:
    """The push alias (primary, or the promoted secondary) and the pull name's latency records."""
    assert settings.regions is not None and settings.pull_domain is not None and settings.tls.hosted_zone_id
    endpoints = []
    for name, registry in [(region, primary), *secondaries.items()]:
        if registry.health is None:
            raise ValueError(f"the registry in {name} has no health check")
        lb = registry.load_balancer
        endpoints.append(RegionEndpoint(name, lb.dns_name, lb.zone_id, registry.health.health_check_id))
    return AwsRegionsDns(
        "registry-dns",
        AwsRegionsDnsArgs(
            hosted_zone_id=settings.tls.hosted_zone_id,
            push_domain=settings.domain,
            pull_domain=settings.pull_domain,
            endpoints=endpoints,
            push_region=settings.regions.promoted or region,
            previous_push_record=("registry-lb-alias", primary.load_balancer),
        ),
        opts=pulumi.ResourceOptions(providers={"aws": provider}),
    )


def regions_output(
    settings: AwsSettings, region: str, primary: AwsRegistry, secondaries: dict[str, AwsRegistry]
) -> dict[str, Any]:
    """Where each region runs, as `tools.maintenance promote` reads it (the `regions` output, and the
    maintenance output's `regions`)."""
    assert settings.regions is not None

    def entry(name: str, registry: AwsRegistry) -> dict[str, Any]:
        return {
            "region": name,
            "cluster": registry.service.cluster_name,
            "service": registry.service.service_name,
            "bucket": registry.bucket_name,
            "loadBalancerDnsName": registry.load_balancer.dns_name,
            "loadBalancerZoneId": registry.load_balancer.zone_id,
            "healthCheckId": registry.health.health_check_id if registry.health is not None else None,
            # each region alarms to a topic of its own (an alarm notifies only its own region's topics)
            "dashboardUrl": registry.observability.dashboard_url,
            "alertTopicArn": registry.observability.alert_topic_arn,
        }

    return {
        "primary": entry(region, primary),
        "secondaries": [entry(name, registry) for name, registry in secondaries.items()],
        "hostedZoneId": settings.tls.hosted_zone_id,
        "pushDomain": settings.domain,
        "pullDomain": settings.pull_domain,
        "promoted": settings.regions.promoted,
    }


def _outputs(
    settings: AwsSettings, registry: AwsRegistry, creds: Credentials, cert: Tls, region: str
) -> dict[str, Any]:
    """The login, mirror and service outputs, and where tools.maintenance acts."""
    self_signed = settings.tls.mode == "self-signed"
    outputs = endpoint_outputs(
        host=settings.domain,
        settings=settings,
        passwords=creds.passwords,
        # acm: a public CA signs; the pulumi-tls CA then only covers the ALB -> edge hop
        ca_cert_pem=cert.ca_cert_pem if self_signed else None,
    )
    outputs.update(
        {
            **mirror_outputs(settings.mirrors, host=settings.domain, root_host=settings.host, private_ca=self_signed),
            "region": region,
            "loadBalancerDnsName": registry.load_balancer.dns_name,
            "bucket": registry.bucket_name,
            "cluster": registry.service.cluster_name,
            "service": registry.service.service_name,
            "logGroup": registry.service.log_group_name,
            "maintenance": _maintenance_target(settings, registry, cert, region),
            # the primary region's (with registry:regions, each region's are in the regions output)
            "dashboardUrl": registry.observability.dashboard_url,
            "alertTopicArn": registry.observability.alert_topic_arn,
            "logQueries": registry.observability.query_names,  # saved Logs Insights queries over logGroup
        }
    )
    if settings.pull_domain is not None:
        # pulls from the nearest healthy region; the same logins (each registry host needs its own docker login)
        outputs["pullUrl"] = f"https://{settings.pull_domain}"
        outputs["pullLoginCommands"] = {u.name: login_command(settings.pull_domain, u.name) for u in settings.users}
    if not settings.tls.hosted_zone_id:
        outputs["dnsRecord"] = registry.load_balancer.dns_name.apply(
            lambda target: f"create: {settings.domain}. CNAME {target}."
        )
    return outputs


def _maintenance_target(settings: AwsSettings, registry: AwsRegistry, cert: Tls, region: str) -> dict[str, Any]:
    """Where `python -m tools.maintenance <flush-cache|gc|retention> --stack <stack>` acts."""
    return {
        "target": "aws",
        "region": region,
        "cluster": registry.service.cluster_name,
        "cacheFlushTask": registry.service.cache_flush_task_arn,
        "gcTask": registry.service.gc_task_arn,
        "logGroup": registry.service.log_group_name,
        "listener": registry.load_balancer.https_listener.arn,
        "subnets": registry.network.private_subnet_ids,
        "securityGroups": [registry.firewall.tasks.id],
        "bucket": registry.bucket_name,
        "rootDirectory": REGISTRY_ROOT,
        "registryUrl": f"https://{settings.domain}",
        "caCertificate": cert.ca_cert_pem if settings.tls.mode == "self-signed" else None,
        "retention": settings.retention.model_dump(by_alias=True) if settings.retention else None,
        "gcStateMachine": registry.maintenance.state_machine_arn if registry.maintenance else None,
    }
