"""The `aws` target: an HA registry on ECS Fargate behind an ALB, with ElastiCache and S3.

One module per purpose; `registry.py` composes them, `deploy` wires providers and outputs. Type
tokens stay `registry:aws_<purpose>:...` as they were before the package existed, so no resource's
URN changed (tests/components/test_urns.py).
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.aws.registry import AwsRegistry, AwsRegistryArgs
from components.aws_account import deploy_region, tagged_provider
from components.aws_signing import signing_outputs
from components.config import AwsSettings
from components.credentials import Credentials, CredentialsArgs
from components.endpoint import endpoint_outputs
from components.renderers.distribution import REGISTRY_ROOT
from components.renderers.mirrors import mirror_outputs
from components.tls import Tls, TlsArgs


def deploy(settings: AwsSettings) -> dict[str, Any]:
    """Providers, shared pieces and the registry for `target: aws`; returns the stack outputs."""
    region = deploy_region()
    replica_region = settings.storage.replica_region
    if replica_region == region:
        raise pulumi.RunError(
            f"registry:storage.replicaRegion ({replica_region}) equals aws:region; pick another region or remove it"
        )
    provider = tagged_provider("registry-aws", region)
    replica_provider = None
    if replica_region is not None:
        replica_provider = tagged_provider("registry-aws-replica", replica_region)

    creds = Credentials("registry-credentials", CredentialsArgs(users=list(settings.users)))
    cert = Tls("registry-tls", TlsArgs.for_settings(settings))
    registry = AwsRegistry(
        "registry",
        AwsRegistryArgs(
            settings=settings,
            region=region,
            family=f"registry-{pulumi.get_stack()}",
            credentials=creds,
            tls=cert,
            replica_provider=replica_provider,
        ),
        opts=pulumi.ResourceOptions(providers={"aws": provider}),
    )
    outputs = _outputs(settings, registry, creds, cert, region)
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
            "bucket": registry.storage.bucket_name,
            "cluster": registry.service.cluster_name,
            "service": registry.service.service_name,
            "logGroup": registry.service.log_group_name,
            "maintenance": _maintenance_target(settings, registry, cert, region),
        }
    )
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
        "bucket": registry.storage.bucket_name,
        "rootDirectory": REGISTRY_ROOT,
        "registryUrl": f"https://{settings.domain}",
        "caCertificate": cert.ca_cert_pem if settings.tls.mode == "self-signed" else None,
        "retention": settings.retention.model_dump(by_alias=True) if settings.retention else None,
        "gcStateMachine": registry.maintenance.state_machine_arn if registry.maintenance else None,
    }
