"""Redis for distribution's blob-descriptor cache: ElastiCache across two zones.

A primary and a replica in different zones with automatic failover; encrypted at rest and in
transit (TLS required, which is why the aws target runs distribution 3) with an auth token. At rest
under ElastiCache's own key, or a customer managed one (`kms_key_arn`, registry:cache.customerKey):
ElastiCache sets it only when it creates the group, so a key added to a running cache replaces it.
The cache holds nothing that storage cannot rebuild, so there are no snapshots, and it evicts
any key when full (`allkeys-lru`, as the local target's redis.conf) rather than refusing writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_tls as tls

REDIS_PORT = 6379
CLIENT_VALIDITY_YEARS = 20  # never checked: the certificate is only ever loaded, never sent
ENGINE_VERSION = "7.1"
PARAMETER_FAMILY = "redis7"


@dataclass(frozen=True)
class AwsCacheArgs:
    subnet_ids: Sequence[pulumi.Input[str]]  # private subnets in at least two zones
    security_group_id: pulumi.Input[str]
    node_type: str
    auth_token: pulumi.Input[str]  # a secret; 16-128 characters without @ " /
    protect: bool = False
    nodes: int = 2  # primary + replica
    kms_key_arn: pulumi.Input[str] | None = None  # at rest; None: ElastiCache's default key


class AwsCache(pulumi.ComponentResource):
    """`address` is host:port of the primary endpoint (it follows a failover). `client_certificate_pem`
    and `client_key_pem` (a secret) are what switches distribution 3.0.0's TLS to Redis on
    (components/renderers/distribution.py RedisTls): ElastiCache asks for no client certificate, so
    the pair is loaded and never sent; the server is verified against the image's system roots."""

    address: pulumi.Output[str]
    member_clusters: pulumi.Output[Sequence[str]]  # a node each (CloudWatch's CacheClusterId)
    nodes: int
    client_certificate_pem: pulumi.Output[str]
    client_key_pem: pulumi.Output[str]

    def __init__(self, name: str, args: AwsCacheArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("registry:aws_cache:AwsCache", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        subnets = aws.elasticache.SubnetGroup(
            f"{name}-subnets", description="registry Redis: private subnets", subnet_ids=args.subnet_ids, opts=child
        )
        parameters = aws.elasticache.ParameterGroup(
            f"{name}-parameters",
            family=PARAMETER_FAMILY,
            description="registry blob-descriptor cache: evict any key when full",
            parameters=[aws.elasticache.ParameterGroupParameterArgs(name="maxmemory-policy", value="allkeys-lru")],
            opts=child,
        )
        group = aws.elasticache.ReplicationGroup(
            f"{name}-redis",
            description="registry blob-descriptor cache",
            engine="redis",
            engine_version=ENGINE_VERSION,
            node_type=args.node_type,
            num_cache_clusters=args.nodes,
            port=REDIS_PORT,
            automatic_failover_enabled=True,
            multi_az_enabled=True,
            at_rest_encryption_enabled=True,
            kms_key_id=args.kms_key_arn,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            auth_token=pulumi.Output.secret(args.auth_token),
            subnet_group_name=subnets.name,
            security_group_ids=[args.security_group_id],
            parameter_group_name=parameters.name,
            snapshot_retention_limit=0,
            auto_minor_version_upgrade=True,
            apply_immediately=not args.protect,  # production waits for the maintenance window
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        self.address = pulumi.Output.concat(group.primary_endpoint_address, f":{REDIS_PORT}")
        self.member_clusters = group.member_clusters
        self.nodes = args.nodes
        self.client_certificate_pem, self.client_key_pem = self._client_pair(name, child)
        self.register_outputs(
            {
                "address": self.address,
                "client_certificate_pem": self.client_certificate_pem,
                "client_key_pem": self.client_key_pem,
            }
        )

    @staticmethod
    def _client_pair(name: str, child: pulumi.ResourceOptions) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        key = tls.PrivateKey(f"{name}-client-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        certificate = tls.SelfSignedCert(
            f"{name}-client",
            private_key_pem=key.private_key_pem,
            subject=tls.SelfSignedCertSubjectArgs(common_name="registry cache client", organization="registry"),
            validity_period_hours=CLIENT_VALIDITY_YEARS * 365 * 24,
            allowed_uses=["digital_signature", "client_auth"],
            opts=child,
        )
        return certificate.cert_pem, pulumi.Output.secret(key.private_key_pem)
