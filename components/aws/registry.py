"""`aws`: an HA registry on ECS Fargate behind an ALB, with ElastiCache and S3.

    clients ──HTTPS──> ALB (ACM cert) ──HTTPS──> N tasks across 2-3 zones, each:
                                                   edge (nginx: auth, pull/push split)
                                                     └──> registry (distribution 3) ──> S3 (versioned)
                                                                                   └──TLS──> Redis

The edge, its auth and the registry config come from the same renderers as the local target. Every
region also gets its alarms, dashboard and saved log queries (observability.py) and a key of its own
for its logs and alert topic; production puts WAF in front of the load balancer (waf.py).

With registry:regions the same component runs in each region: the primary as above (its bucket
replicated to every secondary), each secondary in a read-only role on its replica bucket
(secondary_settings says what a secondary leaves out, and why).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import pulumi
import pulumi_aws as aws
import yaml

from components import images, policy_documents
from components.aws import iam as aws_iam
from components.aws.cache import AwsCache, AwsCacheArgs
from components.aws.certificate import AwsCertificate, AwsCertificateArgs
from components.aws.firewall import AwsFirewall, AwsFirewallArgs
from components.aws.loadbalancer import AwsLoadBalancer, AwsLoadBalancerArgs
from components.aws.maintenance import AwsMaintenance, AwsMaintenanceArgs
from components.aws.network import AwsNetwork, AwsNetworkArgs, flow_log_group_resource_name
from components.aws.observability import AwsObservability, AwsObservabilityArgs
from components.aws.regions import AwsRegionHealth, AwsRegionHealthArgs
from components.aws.service import (
    EDGE_FILES,
    EDGE_HEALTH_PORT,
    EDGE_PORT,
    EDGE_RUNTIME,
    MIRROR_PORTS_FROM,
    REDIS_CLIENT_TLS,
    REGISTRY_PORT,
    AwsService,
    AwsServiceArgs,
    TaskSecrets,
    log_group_resource_name,
)
from components.aws.waf import AwsWaf, AwsWafArgs, waf_log_group_name
from components.config import AwsSettings
from components.config.mirrors import SelfHostedMirror
from components.credentials import Credentials
from components.renderers.distribution import (
    REGISTRY_ROOT,
    RedisBackend,
    S3Backend,
    mirror_proxy,
    mirror_redis_db,
    mirror_root,
    notification_header_environment,
    readonly_environment,
    render_distribution_config,
)
from components.renderers.expiry import login_expiries
from components.renderers.mirrors import edge_mirrors, root_mirrors, upstream_authorization
from components.renderers.nginx import render_nginx_config
from components.storage import ObjectStorage, ObjectStorageArgs, ReplicaBucket, StorageReplica
from components.tls import Tls

# the local target's registry 3 and edge, through ECR Public
IMAGES = {
    "registry": images.from_ecr_public(images.REGISTRY["3"]),
    "edge": images.from_ecr_public(images.EDGE),
    "redis": images.from_ecr_public(images.REDIS),  # redis-cli for the cache-flush task
}


@dataclass(frozen=True)
class SecondaryRegion:
    """What makes an AwsRegistry a read-only secondary of registry:regions: the replica bucket the
    primary's storage made in its region (and replicates to), the key S3 replication encrypts it with."""

    bucket: ReplicaBucket
    kms_key_arn: pulumi.Input[str] | None  # None: SSE-S3
    created_key: aws.kms.Key | None  # made by the primary for this region: its key policy is written here
    replication_role_arn: pulumi.Output[str] | None
    promoted: bool = False  # registry:regions.promoted: writable, the push name points here


@dataclass(frozen=True)
class AwsRegistryArgs:
    settings: AwsSettings
    region: str
    family: str  # task definition family; unique per stack
    credentials: Credentials
    tls: Tls  # the edge certificate; imported into ACM unless tls.mode is acm
    replica_provider: pulumi.ProviderResource | None = None  # for settings.storage.replicaRegion
    # the primary of registry:regions: an aws provider per secondary region (its replica bucket and key)
    secondary_providers: Mapping[str, pulumi.ProviderResource] = dataclasses.field(default_factory=dict)
    secondary: SecondaryRegion | None = None  # set: this registry is that secondary


def secondary_settings(s: AwsSettings) -> AwsSettings:
    """What a read-only secondary runs: the primary's settings without
    - mirrors: a pull-through cache writes what it pulls, so the mirrors stay in the primary, reached at
      the push name (nothing is refused; a secondary answers a mirror's path like any unknown repository);
    - the blob-descriptor cache: S3 replication deletes objects behind distribution's back, so a cache
      would answer for blobs that are gone (tools/maintenance/cache.py);
    - registry:network: an existing VPC belongs to the primary's region; a secondary creates its own.
    Nor does a secondary collect garbage (AwsServiceArgs.gc, hence no schedule either): a collection on a
    replica would fight replication; the primary's reaches every replica as replicated delete markers."""
    return s.model_copy(update={"mirrors": [], "cache": s.cache.model_copy(update={"enabled": False}), "network": None})


class AwsRegistry(pulumi.ComponentResource):
    """Needs an `aws` provider from the caller (and one for the replica region, if any)."""

    storage: ObjectStorage | None  # None in a secondary: its bucket is a replica the primary made
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    secondary_regions: dict[str, SecondaryRegion]  # the primary of registry:regions: each secondary's share
    health: AwsRegionHealth | None  # registry:regions: this region's Route 53 health check
    load_balancer: AwsLoadBalancer
    service: AwsService
    network: AwsNetwork
    firewall: AwsFirewall
    maintenance: AwsMaintenance | None  # registry:maintenance with gc: the scheduled collection
    logs_key: aws.kms.Key  # this region's log groups and alert topic
    waf: AwsWaf | None  # production: WAF on the load balancer
    observability: AwsObservability
    account_id: str  # of the deploying identity: key policies, the maintenance roles, the signing key

    def __init__(self, name: str, args: AwsRegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("registry:aws:AwsRegistry", name, None, opts)
        self.account_id = aws.get_caller_identity(opts=pulumi.InvokeOptions(parent=self)).account_id
        if args.secondary is not None:
            args = dataclasses.replace(args, settings=secondary_settings(args.settings))
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        self.logs_key = self._logs_key(name, args)
        self.network = AwsNetwork(
            f"{name}-network",
            AwsNetworkArgs(
                region=args.region,
                existing=s.network,
                nat_per_zone=s.production,
                flow_log_retention_days=s.log_retention_days if s.production else None,
                flow_log_kms_key_arn=self.logs_key.arn,
            ),
            opts=child,
        )
        self.firewall = AwsFirewall(
            f"{name}-firewall",
            AwsFirewallArgs(
                vpc_id=self.network.vpc_id,
                allowed_cidrs=list(s.allowed_cidrs),
                edge_port=EDGE_PORT,
                cache_port=6379 if s.cache.enabled else None,
                mirror_ports=tuple((r.port, r.edge_port) for r in root_mirrors(s.mirrors)),
                upstream_ports=upstream_ports(s.mirrors),
            ),
            opts=child,
        )
        storage_key, replica_key, kms_key_arn = self._storage(name, args)
        cache = self._cache(name, args)
        self.load_balancer = self._load_balancer(name, args)
        self.service = self._service(name, args, cache, kms_key_arn)
        self._key_policies(name, storage_key, replica_key, args.replica_provider, args.region)
        self._secondary_key_policy(name, args.secondary)
        self.maintenance = self._maintenance(name, args)
        self.health = self._health(name, args)
        self.waf = self._waf(name, args)
        self.observability = self._observability(name, args, cache)
        self.register_outputs(
            {
                "load_balancer_dns_name": self.load_balancer.dns_name,
                "bucket": self.bucket_name,
                "service": self.service.service_name,
                "dashboard_url": self.observability.dashboard_url,
            }
        )

    def _logs_key(self, name: str, args: AwsRegistryArgs) -> aws.kms.Key:
        """This region's key for its log groups (the tasks', the VPC flow log's, WAF's) and its alert topic
        (CKV_AWS_158, SNS encryption). A log group takes a key only once the key's policy lets CloudWatch
        Logs use it, so the policy names the groups before they exist: the Pulumi-named ones by the prefix
        Pulumi names them with, WAF's by name (iam.logs_key_policy)."""
        s = args.settings
        groups = [f"{log_group_resource_name(f'{name}-service')}-*"]
        if s.production and s.network is None:
            groups.append(f"{flow_log_group_resource_name(f'{name}-network')}-*")
        if s.production:
            groups.append(waf_log_group_name(args.family, args.region))
        return aws.kms.Key(
            f"{name}-logs-key",
            description="registry logs and alerts: CloudWatch Logs and SNS encryption",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=json.dumps(aws_iam.logs_key_policy(self.account_id, args.region, groups)),
            # the logs stay encrypted under it for their whole retention: deleting it loses them
            opts=pulumi.ResourceOptions(parent=self, protect=s.production),
        )

    def _waf(self, name: str, args: AwsRegistryArgs) -> AwsWaf | None:
        """Production: WAF on the load balancer (CKV2_AWS_28): rate limits and known bad inputs (waf.py)."""
        s = args.settings
        if not s.production:
            return None
        return AwsWaf(
            f"{name}-waf",
            AwsWafArgs(
                family=args.family,
                region=args.region,
                load_balancer_arn=self.load_balancer.arn,
                kms_key_arn=self.logs_key.arn,
                log_retention_days=s.log_retention_days,
                anonymous_pulls=any(m.anonymous for m in s.mirrors),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _observability(self, name: str, args: AwsRegistryArgs, cache: AwsCache | None) -> AwsObservability:
        """Alarms to an SNS topic, a dashboard and the saved queries of this region (observability.py)."""
        s, lb, service = args.settings, self.load_balancer, self.service
        return AwsObservability(
            f"{name}-observability",
            AwsObservabilityArgs(
                family=args.family,
                region=args.region,
                kms_key_arn=self.logs_key.arn,
                emails=list(s.alerts.emails),
                p99_latency_seconds=s.alerts.p99_latency_seconds,
                five_xx_percent=s.alerts.five_xx_percent,
                replicas=s.replicas,
                load_balancer_arn_suffix=lb.arn_suffix,
                target_group_arn_suffix=lb.target_group_arn_suffix,
                cluster_name=service.cluster_name,
                service_name=service.service_name,
                bucket_name=self.bucket_name,
                log_group_name=service.log_group_name,
                container_insights=s.production,  # AwsService turns Container Insights on in production
                cache_clusters=cache.member_clusters if cache is not None else None,
                cache_nodes=cache.nodes if cache is not None else 0,
                gc_state_machine_arn=self.maintenance.state_machine_arn if self.maintenance is not None else None,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _storage(
        self, name: str, args: AwsRegistryArgs
    ) -> tuple[aws.kms.Key | None, aws.kms.Key | None, pulumi.Input[str] | None]:
        """SSE-KMS with the configured key or one made here (and one in the replica region); their key
        policies come once the roles that use them exist (_key_policies). (storage key, replica key, key ARN)
        A secondary makes nothing: it serves the replica bucket (and key) the primary made."""
        s = args.settings
        self.secondary_regions = {}
        if args.secondary is not None:
            self.storage = None
            self.bucket_name, self.bucket_arn = args.secondary.bucket.name, args.secondary.bucket.arn
            return None, None, args.secondary.kms_key_arn
        protect = pulumi.ResourceOptions(parent=self, protect=s.production)
        storage_key = replica_key = None
        kms_key_arn: pulumi.Input[str] | None = s.storage.kms_key_arn
        if s.storage.encryption == "kms" and kms_key_arn is None:
            storage_key = _key(f"{name}-storage-key", "registry bucket", protect)
            kms_key_arn = storage_key.arn
        replica = None
        if s.storage.replica_region is not None:
            if args.replica_provider is None:
                raise ValueError("storage.replicaRegion needs a replica_provider for that region")
            if kms_key_arn is not None:
                replica_key = _key(
                    f"{name}-replica-key",
                    "registry bucket replica",
                    pulumi.ResourceOptions.merge(protect, pulumi.ResourceOptions(provider=args.replica_provider)),
                )
            replica = StorageReplica(
                provider=args.replica_provider, kms_key_arn=replica_key.arn if replica_key is not None else None
            )
        replicas, created = self._region_replicas(name, args, kms_key_arn, protect)
        self.storage = ObjectStorage(
            f"{name}-storage",
            ObjectStorageArgs(
                settings=s.storage,
                kms_key_arn=kms_key_arn,
                protect=s.production,
                replica=replica,
                replicas=replicas,
                replication_time_control=s.regions is not None and s.regions.replication_time_control,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.bucket_name, self.bucket_arn = self.storage.bucket_name, self.storage.bucket_arn
        promoted = s.regions.promoted if s.regions is not None else None
        self.secondary_regions = {
            r.region: SecondaryRegion(
                bucket=self.storage.replica_buckets[r.region],
                kms_key_arn=r.kms_key_arn,
                created_key=created.get(r.region),
                replication_role_arn=self.storage.replication_role_arn,
                promoted=r.region == promoted,
            )
            for r in replicas
            if r.region is not None
        }
        return storage_key, replica_key, kms_key_arn

    def _region_replicas(
        self,
        name: str,
        args: AwsRegistryArgs,
        kms_key_arn: pulumi.Input[str] | None,
        protect: pulumi.ResourceOptions,
    ) -> tuple[list[StorageReplica], dict[str, aws.kms.Key]]:
        """registry:regions: a replica per secondary, in its region, under regions.kmsKeyArns' key or one
        made here (when the bucket is SSE-KMS). (replicas, the keys made here by region)"""
        s = args.settings
        if s.regions is None:
            return [], {}
        replicas, created = [], {}
        for region in s.regions.secondaries:
            provider = args.secondary_providers.get(region)
            if provider is None:
                raise ValueError(f"registry:regions needs an aws provider for {region}")
            key: pulumi.Input[str] | None = None
            if s.storage.kms_key_arn is not None:
                key = s.regions.kms_key_arns[region]
            elif kms_key_arn is not None:
                created[region] = _key(
                    f"{name}-replica-key-{region}",
                    f"registry bucket replica in {region}",
                    pulumi.ResourceOptions.merge(protect, pulumi.ResourceOptions(provider=provider)),
                )
                key = created[region].arn
            replicas.append(StorageReplica(provider=provider, kms_key_arn=key, region=region))
        return replicas, created

    def _cache(self, name: str, args: AwsRegistryArgs) -> AwsCache | None:
        s = args.settings
        if not s.cache.enabled or self.firewall.cache is None:
            return None
        key = None
        if s.cache.customer_key:
            # ElastiCache sets the key when it creates the group: on a running stack this replaces the cache
            key = aws.kms.Key(
                f"{name}-cache-key",
                description="registry cache: ElastiCache encryption at rest",
                enable_key_rotation=True,
                deletion_window_in_days=30,
                policy=json.dumps(aws_iam.cache_key_policy(self.account_id, args.region)),
                opts=pulumi.ResourceOptions(parent=self, protect=s.production),
            )
        return AwsCache(
            f"{name}-cache",
            AwsCacheArgs(
                subnet_ids=self.network.private_subnet_ids,
                security_group_id=self.firewall.cache.id,
                node_type=s.cache.node_type,
                auth_token=args.credentials.redis_password,
                protect=s.production,
                kms_key_arn=key.arn if key is not None else None,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _load_balancer(self, name: str, args: AwsRegistryArgs) -> AwsLoadBalancer:
        """The push name's certificate (the listener's default, as before regions) and, with regions, the
        pull name's beside it: every region serves the pull name, and the push name too once promoted.
        With regions the push name's alias is AwsRegionsDns's (it follows registry:regions.promoted)."""
        s, child = args.settings, pulumi.ResourceOptions(parent=self)
        certificate = AwsCertificate(
            f"{name}-certificate",
            AwsCertificateArgs(
                domain=s.domain,
                hosted_zone_id=s.tls.hosted_zone_id,
                imported=None if s.tls.mode == "acm" else args.tls,
            ),
            opts=child,
        )
        extra_certificates = []
        if s.pull_domain is not None:
            pull = AwsCertificate(
                f"{name}-pull-certificate",
                AwsCertificateArgs(domain=s.pull_domain, hosted_zone_id=s.tls.hosted_zone_id),
                opts=child,
            )
            extra_certificates.append(pull.arn)
        return AwsLoadBalancer(
            f"{name}-lb",
            AwsLoadBalancerArgs(
                vpc_id=self.network.vpc_id,
                subnet_ids=self.network.public_subnet_ids,
                security_group_id=self.firewall.load_balancer.id,
                certificate_arn=certificate.arn,
                target_port=EDGE_PORT,
                deletion_protection=s.production,
                domain=s.domain if s.regions is None else None,
                hosted_zone_id=s.tls.hosted_zone_id,
                access_log_days=s.log_retention_days if s.production else None,
                mirror_listeners=[(r.name, r.port, r.edge_port) for r in root_mirrors(s.mirrors)],
                extra_certificate_arns=extra_certificates,
            ),
            opts=child,
        )

    def _service(
        self, name: str, args: AwsRegistryArgs, cache: AwsCache | None, kms_key_arn: pulumi.Input[str] | None
    ) -> AwsService:
        """Every task gets the same config: same bucket, same Redis; the secrets arrive as env."""
        s, network = args.settings, self.network
        cache_address = cache.address if cache is not None else pulumi.Output.from_input("")
        registry_config = pulumi.Output.all(self.bucket_name, cache_address).apply(
            lambda v: registry_config_text(
                s, bucket=v[0], region=args.region, redis_address=v[1] or None, blob_cache=args.secondary is None
            )
        )
        return AwsService(
            f"{name}-service",
            AwsServiceArgs(
                family=args.family,
                region=args.region,
                images=IMAGES,
                replicas=s.replicas,
                max_replicas=s.autoscaling_max,
                production=s.production,
                log_retention_days=s.log_retention_days,
                subnet_ids=network.private_subnet_ids,
                security_group_id=self.firewall.tasks.id,
                target_group_arn=self.load_balancer.target_group_arn,
                scaling_label=self.load_balancer.scaling_label,
                bucket_arn=self.bucket_arn,
                root_directory=REGISTRY_ROOT,
                kms_key_arn=kms_key_arn,
                registry_config=registry_config,
                edge_config=pulumi.Output.all(*network.public_subnet_cidrs).apply(
                    lambda cidrs: edge_config_text(s, cidrs)
                ),
                edge_certificate=args.tls.cert_pem,
                secrets=_task_secrets(args, cache),
                cache_address=cache.address if cache is not None else None,
                mirror_configs=[self._mirror_config(s, args.region, k, cache_address) for k in range(len(s.mirrors))],
                mirror_root_directories=[mirror_root(m.name) for m in s.mirrors],
                mirror_ca_certificates=[m.ca_certificate for m in s.mirrors],
                mirror_target_groups=self.load_balancer.mirror_target_groups,
                # a secondary is read-only (pushes and deletes 405) unless promoted; promote flips this variable
                registry_environment=readonly_environment(not args.secondary.promoted) if args.secondary else {},
                gc=args.secondary is None,
                logs_kms_key_arn=self.logs_key.arn,
            ),
            # the target group must be attached to the load balancer before the service uses it
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.load_balancer]),
        )

    def _maintenance(self, name: str, args: AwsRegistryArgs) -> AwsMaintenance | None:
        """registry:maintenance with gc: the scheduled, frozen collection."""
        s, gc_task, gc_role = args.settings, self.service.gc_task_arn, self.service.gc_role_arn
        if s.maintenance is None or not s.maintenance.gc or gc_task is None or gc_role is None:
            return None
        return AwsMaintenance(
            f"{name}-maintenance",
            AwsMaintenanceArgs(
                schedule=s.maintenance.schedule,
                region=args.region,
                account_id=self.account_id,
                listener_arn=self.load_balancer.https_listener.arn,
                cluster_arn=self.service.cluster_arn,
                cluster_name=self.service.cluster_name,
                gc_task_arn=gc_task,
                flush_task_arn=self.service.cache_flush_task_arn,
                passed_roles=[self.service.execution_role_arn, gc_role],
                subnet_ids=self.network.private_subnet_ids,
                security_group_id=self.firewall.tasks.id,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _mirror_config(
        self, s: AwsSettings, region: str, index: int, cache_address: pulumi.Input[str]
    ) -> pulumi.Output[str]:
        """Mirror `index`'s config.yml, once the bucket and the cache have names."""
        return pulumi.Output.all(self.bucket_name, cache_address).apply(
            lambda v: registry_config_text(s, bucket=v[0], region=region, redis_address=v[1] or None, mirror=index)
        )

    def _key_policies(
        self,
        name: str,
        storage_key: aws.kms.Key | None,
        replica_key: aws.kms.Key | None,
        replica_provider: pulumi.ProviderResource | None,
        region: str,
    ) -> None:
        """Explicit key policies (CKV2_AWS_64): the account administers each key we created, and only
        the roles that need it use it: the tasks and S3 replication (read) the bucket key, replication
        (write) the replica's key. The bucket key also lets the account's principals whose IAM policy
        allows it use it through S3 alone (kms:ViaService), which is how an operator's
        tools.maintenance retention, backup and restore read and write images. A key given as
        storage.kmsKeyArn keeps the policy its owner gave it."""
        account = self.account_id
        replication = self.storage.replication_role_arn if self.storage is not None else None
        if storage_key is not None:
            users: list[tuple[str, pulumi.Input[str], list[str]]] = [
                ("RegistryTasksReadAndWriteImages", self.service.task_role_arn, aws_iam.KMS_DATA_ACTIONS),
            ]
            if self.service.gc_role_arn is not None:
                users.append(("GarbageCollectionReadsImages", self.service.gc_role_arn, ["kms:Decrypt"]))
            if replication is not None:
                users.append(("ReplicationReadsImages", replication, ["kms:Decrypt"]))
            aws.kms.KeyPolicy(
                f"{name}-storage-key-policy",
                key_id=storage_key.id,
                policy=pulumi.Output.json_dumps(
                    policy_documents.key_policy(account, users, through_service=f"s3.{region}.amazonaws.com")
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        if replica_key is not None and replication is not None:
            aws.kms.KeyPolicy(
                f"{name}-replica-key-policy",
                key_id=replica_key.id,
                policy=pulumi.Output.json_dumps(
                    policy_documents.key_policy(
                        account, [("ReplicationWritesReplicas", replication, ["kms:Encrypt", "kms:GenerateDataKey"])]
                    )
                ),
                opts=pulumi.ResourceOptions(parent=self, provider=replica_provider),
            )

    def _secondary_key_policy(self, name: str, secondary: SecondaryRegion | None) -> None:
        """A secondary's replica key made by the primary: S3 replication writes with it, this region's
        tasks read (and, once promoted, write) with it. A key from regions.kmsKeyArns keeps its owner's policy."""
        if secondary is None or secondary.created_key is None or secondary.replication_role_arn is None:
            return
        users: list[tuple[str, pulumi.Input[str], list[str]]] = [
            ("RegistryTasksReadAndWriteImages", self.service.task_role_arn, aws_iam.KMS_DATA_ACTIONS),
            ("ReplicationWritesReplicas", secondary.replication_role_arn, ["kms:Encrypt", "kms:GenerateDataKey"]),
        ]
        aws.kms.KeyPolicy(
            f"{name}-replica-key-policy",
            key_id=secondary.created_key.id,
            policy=pulumi.Output.json_dumps(policy_documents.key_policy(self.account_id, users)),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _health(self, name: str, args: AwsRegistryArgs) -> AwsRegionHealth | None:
        """registry:regions: the Route 53 health check of this region's load balancer (components/aws/regions.py)."""
        if args.settings.regions is None:
            return None
        return AwsRegionHealth(
            f"{name}-health",
            AwsRegionHealthArgs(
                region=args.region,
                alarm_name=f"{args.family}-{args.region}-healthy-hosts",
                load_balancer_arn_suffix=self.load_balancer.arn_suffix,
                target_group_arn_suffix=self.load_balancer.target_group_arn_suffix,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )


def _task_secrets(args: AwsRegistryArgs, cache: AwsCache | None) -> TaskSecrets:
    creds, s = args.credentials, args.settings
    return TaskSecrets(
        http_secret=creds.http_secret,
        htpasswd=creds.htpasswd,
        tls_key=args.tls.private_key_pem,
        redis_password=creds.redis_password if cache is not None else None,
        redis_client_certificate=cache.client_certificate_pem if cache is not None else None,
        redis_client_key=cache.client_key_pem if cache is not None else None,
        mirror_tokens={
            k: pulumi.Output.secret(m.access_token) for k, m in enumerate(s.mirrors) if m.access_token is not None
        },
        mirror_logins={
            k: pulumi.Output.secret(login)
            for k, m in enumerate(s.mirrors)
            if (login := upstream_authorization(m)) is not None
        },
        notification_headers={
            variable: pulumi.Output.secret(value)
            for variable, value in notification_header_environment(s.notifications).items()
        },
    )


def _key(name: str, purpose: str, opts: pulumi.ResourceOptions) -> aws.kms.Key:
    return aws.kms.Key(
        name,
        description=f"{purpose}: SSE-KMS",
        enable_key_rotation=True,
        deletion_window_in_days=30,
        opts=opts,
    )


def registry_config_text(
    s: AwsSettings,
    *,
    bucket: str,
    region: str,
    redis_address: str | None,
    mirror: int | None = None,
    blob_cache: bool = True,
) -> str:
    """distribution 3 config.yml for the tasks: IAM task role (no keys), Redis over TLS, no secrets.
    With `mirror` (an index into registry:mirrors): that mirror's instance, in proxy mode on its
    own storage root, Redis database and loopback port. `blob_cache` False (a secondary region):
    no blob-descriptor cache at all, not even the in-memory one the renderer falls back to without
    Redis: S3 replication deletes objects behind distribution's back, and a cache would answer for
    blobs that are gone (registry/handlers/app.go: no storage.cache, no cache)."""
    root, db, port, proxy = REGISTRY_ROOT, 0, REGISTRY_PORT, None
    if mirror is not None:
        settings = s.mirrors[mirror]
        root, db, port = mirror_root(settings.name), mirror_redis_db(mirror), MIRROR_PORTS_FROM + mirror
        proxy = mirror_proxy(settings, "3", password=None)  # REGISTRY_PROXY_PASSWORD from the task secret
    text = render_distribution_config(
        version="3",
        s3=S3Backend(
            bucket=bucket,
            region=region,
            root_directory=root,
            encrypt=False,  # the bucket's default (SSE-S3, or SSE-KMS with a bucket key); the header would override it
        ),
        redis=RedisBackend(address=redis_address, tls=REDIS_CLIENT_TLS, db=db) if redis_address else None,
        upload_purging_age_hours=s.upload_purging.age_hours,
        upload_purging_interval_hours=s.upload_purging.interval_hours,
        listen=f"127.0.0.1:{port}",  # only the edge in the same task talks to it
        secrets_in_env=True,  # and the webhooks' headers, from the task secret (TaskSecrets)
        proxy=proxy,
        notifications=s.notifications if mirror is None else (),
    )
    if blob_cache:
        return text
    config = yaml.safe_load(text)
    del config["storage"]["cache"]
    return str(yaml.safe_dump(config, sort_keys=False, default_flow_style=False))


def upstream_ports(mirrors: Sequence[SelfHostedMirror]) -> tuple[int, ...]:
    """Ports other than 443 the tasks must reach for the mirrors' upstreams."""
    ports = {urlsplit(m.remote_url).port or 443 for m in mirrors}
    return tuple(sorted(ports - {443}))


def edge_config_text(s: AwsSettings, load_balancer_cidrs: Sequence[str]) -> str:
    """The local target's edge, with one upstream: the registry in the same task. The ALB (its
    nodes in `load_balancer_cidrs`, the public subnets) names the client in X-Forwarded-For."""
    return render_nginx_config(
        server_names=s.edge_names,
        public_port=443,
        upstreams=[f"127.0.0.1:{REGISTRY_PORT}"],
        grants=s.edge_grants,
        expiries=login_expiries(s.users),
        trusted_proxies=load_balancer_cidrs,
        listen_port=EDGE_PORT,
        health_port=EDGE_HEALTH_PORT,
        files=EDGE_FILES,
        runtime=EDGE_RUNTIME,
        mirrors=edge_mirrors(s.mirrors, lambda k: [f"127.0.0.1:{MIRROR_PORTS_FROM + k}"], s.version, EDGE_FILES),
    )
