"""The registry tasks: an ECS Fargate service, each task the registry plus the nginx edge sidecar.

    ALB ──HTTPS──> edge :8443 (nginx, auth) ──127.0.0.1:5000──> registry (distribution 3)
        └─ :<mirror port> ──> edge :8444+ ─────127.0.0.1:5001+──> mirror-<i> (proxy mode, one per mirror)

No custom image: each container's command writes its config files from environment
variables into a small ephemeral volume and execs the server, so the root filesystems stay
read-only. Non-secret text (config.yml, nginx.conf, the edge certificate) travels as plain
environment; secrets only through ECS `secrets` from one Secrets Manager secret (JSON keys).
The secret's version id is part of the task definition, so changing a password or a user
rolls the tasks, which read secrets only at start.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components import health, policy_documents
from components.aws import iam as aws_iam
from components.renderers.distribution import (
    CONFIG_PATH,
    REGISTRY_ENVIRONMENT,
    SECRET_ENV,
    RedisTls,
    config_dir,
    mirror_serve_script,
    upstream_ca_path,
)
from components.renderers.gc import GC_CONTAINER, GC_DRY_RUN_ENV, GC_LOG_PREFIX
from components.renderers.nginx import EdgeFiles, EdgeRuntime, mirror_login_script

REGISTRY_PORT = 5000
EDGE_PORT = 8443  # the target group's port
EDGE_HEALTH_PORT = 8081  # loopback only: the container health check
EDGE_DIR = "/etc/nginx/registry"  # ephemeral volume the edge writes its files to
EDGE_FILES = EdgeFiles(
    certificate=f"{EDGE_DIR}/server.crt",
    certificate_key=f"{EDGE_DIR}/server.key",
    htpasswd=f"{EDGE_DIR}/htpasswd",
    freeze_flag=None,  # on aws writes are frozen at the ALB, in front of every task (tools/maintenance/alb.py)
    mirror_script=f"{EDGE_DIR}/mirror_login.js",
    mirror_dir=EDGE_DIR,
)
EDGE_CACHE = "/var/cache/nginx"  # the image's temp paths; writable volume
# /var/run is on the read-only root; the VPC's Route 53 Resolver answers at 169.254.169.253 in
# every subnet (what the edge looks mirrors' upstreams up with; nginx reads no resolv.conf)
EDGE_RUNTIME = EdgeRuntime(pid=f"{EDGE_CACHE}/nginx.pid", resolver="169.254.169.253")
# Fargate sizes (vCPU units, MiB) by mirror count: the registry and edge take 0.5 vCPU and 1 GiB,
# a mirror instance up to ~0.5 GiB under load; ARM (Graviton) is ~20% cheaper
TASK_SIZES = ((0, "512", "1024"), (2, "512", "2048"), (6, "1024", "4096"), (10, "2048", "8192"))
MIRROR_PORTS_FROM = REGISTRY_PORT + 1  # mirror i listens on 127.0.0.1:5001+i
STOP_TIMEOUT_SECONDS = 120  # Fargate's maximum: lets in-flight transfers finish on deploys
# The registry image's CA bundle (alpine ca-certificates): Amazon's roots, which ElastiCache's
# in-transit certificates chain to, and what distribution 3.0.0 verifies Redis against.
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
# where each registry and mirror container writes the cache's client pair from the task secret
REDIS_CLIENT_TLS = RedisTls(
    certificate=f"{config_dir('3')}/redis-client.crt",
    key=f"{config_dir('3')}/redis-client.key",
)
REDIS_TLS_FILES = {"REDIS_TLS_CERT": REDIS_CLIENT_TLS.certificate, "REDIS_TLS_KEY": REDIS_CLIENT_TLS.key}
CPU_TARGET_PERCENT = 60.0
REQUESTS_PER_TARGET = 1000.0  # per minute, ALBRequestCountPerTarget


@dataclass(frozen=True)
class TaskSecrets:
    """Pulumi secrets the containers receive through ECS `secrets`."""

    http_secret: pulumi.Input[str]
    htpasswd: pulumi.Input[str]
    tls_key: pulumi.Input[str]
    redis_password: pulumi.Input[str] | None  # None: no Redis
    mirror_tokens: Mapping[int, pulumi.Input[str]] = field(default_factory=dict)  # mirror index -> upstream token
    # mirror index -> its upstream login as an Authorization value (mirrors.upstream_authorization), for the edge
    mirror_logins: Mapping[int, pulumi.Input[str]] = field(default_factory=dict)
    # AwsCache's client pair (REDIS_CLIENT_TLS): with Redis, what turns distribution 3.0.0's TLS on
    redis_client_certificate: pulumi.Input[str] | None = None
    redis_client_key: pulumi.Input[str] | None = None
    # registry:notifications' headers: variable (notification_header_environment) -> its value
    notification_headers: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class MirrorContainer:
    """A mirror's instance in every task: distribution in proxy mode on 127.0.0.1:`port`."""

    index: int
    config: str  # its config.yml, without secrets (SECRET_ENV)
    port: int
    token: bool  # REGISTRY_PROXY_PASSWORD from the task secret
    ca_certificate: str | None = None  # a private upstream's CA, trusted beside the system roots


def task_size(mirrors: int) -> tuple[str, str]:
    """(cpu, memory) of a registry task with `mirrors` mirror containers."""
    return next((cpu, memory) for most, cpu, memory in TASK_SIZES if mirrors <= most)


@dataclass(frozen=True)
class AwsServiceArgs:
    family: str  # task definition family
    region: str
    images: Mapping[str, str]  # "registry", "edge": pinned references
    replicas: int
    max_replicas: int
    production: bool
    log_retention_days: int
    subnet_ids: Sequence[pulumi.Input[str]]  # private, across zones
    security_group_id: pulumi.Input[str]
    target_group_arn: pulumi.Input[str]
    scaling_label: pulumi.Input[str]  # "<alb arn suffix>/<target group arn suffix>"
    bucket_arn: pulumi.Input[str]
    root_directory: str  # the registry's prefix in the bucket
    kms_key_arn: pulumi.Input[str] | None
    registry_config: pulumi.Input[str]  # distribution config.yml without secrets (SECRET_ENV)
    edge_config: pulumi.Input[str]  # nginx.conf
    edge_certificate: pulumi.Input[str]  # PEM for the ALB -> edge hop
    secrets: TaskSecrets
    cache_address: pulumi.Input[str] | None = None  # host:port of Redis, for the cache-flush task
    mirror_configs: Sequence[pulumi.Input[str]] = ()  # each mirror's config.yml, in mirror order
    mirror_root_directories: Sequence[str] = ()  # their prefixes in the bucket
    mirror_ca_certificates: Sequence[str | None] = ()
    # root listeners of mirrors: (target group ARN, the edge's port for it)
    mirror_target_groups: Sequence[tuple[pulumi.Input[str], int]] = ()
    # more environment of the container named "registry" (a secondary region's read-only switch,
    # which tools.maintenance promote flips in a new revision of the task definition)
    registry_environment: Mapping[str, str] = field(default_factory=dict)
    gc: bool = True  # the garbage-collection task and its role; a secondary region has none
    # encrypts the log group (CKV_AWS_158); its key policy names log_group_resource_name's log group
    logs_kms_key_arn: pulumi.Input[str] | None = None


class AwsService(pulumi.ComponentResource):
    cluster_arn: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    execution_role_arn: pulumi.Output[str]
    service_name: pulumi.Output[str]
    task_role_arn: pulumi.Output[str]
    cache_flush_task_arn: pulumi.Output[str] | None  # run it after objects were lost (tools.maintenance)
    gc_task_arn: pulumi.Output[str] | None  # tools.maintenance gc runs it with writes refused at the ALB
    gc_role_arn: pulumi.Output[str] | None  # None: no gc here (AwsServiceArgs.gc)

    def _cache_flush_task(
        self,
        name: str,
        args: AwsServiceArgs,
        execution_role_arn: pulumi.Input[str],
        secret_arn: pulumi.Input[str],
        secrets_version: pulumi.Input[str],
        log_group: pulumi.Input[str],
    ) -> pulumi.Output[str]:
        """A one-off task that empties the blob-descriptor cache (FLUSHDB over TLS): the cache must not
        answer for blobs the bucket no longer holds (after a restore, a GC, a lost object)."""
        definitions = pulumi.Output.all(args.cache_address, secret_arn, secrets_version, log_group).apply(
            lambda v: json.dumps(
                cache_flush_definitions(
                    images=args.images,
                    redis_address=v[0],
                    secret_arn=v[1],
                    secrets_version=v[2],
                    log_group=v[3],
                    region=args.region,
                )
            )
        )
        task = aws.ecs.TaskDefinition(
            f"{name}-cache-flush",
            family=f"{args.family}-cache-flush",
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu="256",
            memory="512",
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX", cpu_architecture="ARM64"
            ),
            execution_role_arn=execution_role_arn,
            volumes=[aws.ecs.TaskDefinitionVolumeArgs(name="ca-bundle")],
            container_definitions=definitions,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return task.arn

    def _gc_task(
        self,
        name: str,
        args: AwsServiceArgs,
        trust: str,
        execution_role_arn: pulumi.Input[str],
        log_group: pulumi.Output[str],
    ) -> None:
        """The garbage-collection task `tools.maintenance gc` runs while the ALB refuses writes; its own
        role may only list, read and delete below the registry's root (iam.gc_policy)."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-gc-role",
            description="registry garbage collection: list, read and delete the registry's objects",
            assume_role_policy=trust,
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-gc-policy",
            role=role.id,
            policy=pulumi.Output.json_dumps(aws_iam.gc_policy(args.bucket_arn, args.root_directory, args.kms_key_arn)),
            opts=child,
        )
        definitions = pulumi.Output.all(args.registry_config, log_group).apply(
            lambda v: json.dumps(
                gc_definitions(image=args.images["registry"], registry_config=v[0], log_group=v[1], region=args.region)
            )
        )
        task = aws.ecs.TaskDefinition(
            f"{name}-gc",
            family=f"{args.family}-gc",
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu="1024",  # mark and sweep: one manifest read after another, memory for the mark set
            memory="2048",
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX", cpu_architecture="ARM64"
            ),
            execution_role_arn=execution_role_arn,
            task_role_arn=role.arn,
            volumes=[aws.ecs.TaskDefinitionVolumeArgs(name="registry-config")],
            container_definitions=definitions,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.gc_task_arn, self.gc_role_arn = task.arn, role.arn

    log_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: AwsServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("registry:aws_service:AwsService", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            settings=[
                aws.ecs.ClusterSettingArgs(name="containerInsights", value="enabled" if args.production else "disabled")
            ],
            opts=child,
        )
        logs = aws.cloudwatch.LogGroup(
            log_group_resource_name(name),
            retention_in_days=args.log_retention_days,
            kms_key_id=args.logs_kms_key_arn,
            opts=child,
        )

        # ---- roles first: the secrets key names the execution role
        identity = aws.get_caller_identity(opts=pulumi.InvokeOptions(parent=self))
        trust = json.dumps(aws_iam.ecs_tasks_trust(identity.account_id, args.region))
        execution_role = aws.iam.Role(
            f"{name}-execution-role",
            description="ECS agent for the registry tasks: logs and the task secret",
            assume_role_policy=trust,
            opts=child,
        )
        secret, version = self._secret(name, args, identity.account_id, execution_role)
        aws.iam.RolePolicy(
            f"{name}-execution-policy",
            role=execution_role.id,
            policy=pulumi.Output.json_dumps(aws_iam.execution_policy(logs.arn, secret.arn)),
            opts=child,
        )
        task_role, task_policy = self._task_role(name, args, trust)
        task = self._task_definition(name, args, execution_role, task_role, secret, version, logs)
        service = self._service(name, args, cluster, task, task_policy)
        self._autoscaling(name, args, cluster, service)
        self.cache_flush_task_arn = None
        if args.cache_address is not None:
            self.cache_flush_task_arn = self._cache_flush_task(
                name, args, execution_role.arn, secret.arn, version.version_id, logs.name
            )
        self.gc_task_arn = self.gc_role_arn = None
        if args.gc:
            self._gc_task(name, args, trust, execution_role.arn, logs.name)
        self.task_role_arn = task_role.arn
        self.execution_role_arn = execution_role.arn
        self.cluster_arn = cluster.arn
        self.cluster_name = cluster.name
        self.service_name = service.name
        self.log_group_name = logs.name
        self.register_outputs(
            {"cluster_name": self.cluster_name, "service_name": self.service_name, "log_group": self.log_group_name}
        )

    def _secret(
        self, name: str, args: AwsServiceArgs, account_id: str, execution_role: aws.iam.Role
    ) -> tuple[aws.secretsmanager.Secret, aws.secretsmanager.SecretVersion]:
        """One secret, a JSON key per value; in production under a key of our own (CKV_AWS_149).

        No Secrets Manager rotation (CKV2_AWS_57, by design): every value is generated by Pulumi
        (components/credentials.py) and written here and, hashed, into the htpasswd the edge reads, so
        Pulumi is what rotates them: replace a RandomPassword (`pulumi up --replace <its URN>`) and the
        new value, its htpasswd line and a new secret version (which rolls the tasks) land together.
        A rotation Lambda would change the secret behind Pulumi's back: the next `pulumi up` would put
        the old value back, and the htpasswd file, the Redis auth token and the users' passwords in the
        stack outputs would no longer agree with it."""
        child = pulumi.ResourceOptions(parent=self)
        secrets_key = None
        if args.production:
            secrets_key = aws.kms.Key(
                f"{name}-secrets-key",
                description="registry task secrets: Secrets Manager encryption",
                enable_key_rotation=True,
                deletion_window_in_days=30,
                policy=pulumi.Output.json_dumps(
                    policy_documents.key_policy(
                        account_id,
                        users=[("ExecutionRoleReadsTheSecret", execution_role.arn, ["kms:Decrypt"])],
                        through_service=f"secretsmanager.{args.region}.amazonaws.com",
                    )
                ),
                opts=pulumi.ResourceOptions(parent=self, protect=True),
            )
        secret = aws.secretsmanager.Secret(
            f"{name}-secrets",
            name_prefix=f"{args.family}-",
            description="registry task secrets: http secret, Redis auth token, htpasswd files, edge TLS key",
            recovery_window_in_days=30 if args.production else 0,
            kms_key_id=secrets_key.arn if secrets_key is not None else None,
            opts=child,
        )
        secret_json: pulumi.Output[str] = pulumi.Output.secret(pulumi.Output.json_dumps(secret_values(args.secrets)))
        version = aws.secretsmanager.SecretVersion(
            f"{name}-secrets-value", secret_id=secret.id, secret_string=secret_json, opts=child
        )
        return secret, version

    def _task_role(self, name: str, args: AwsServiceArgs, trust: str) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        child = pulumi.ResourceOptions(parent=self)
        task_role = aws.iam.Role(
            f"{name}-task-role",
            description="registry containers: the registry bucket and its key",
            assume_role_policy=trust,
            opts=child,
        )
        task_policy = aws.iam.RolePolicy(
            f"{name}-task-policy",
            role=task_role.id,
            policy=pulumi.Output.json_dumps(
                aws_iam.task_policy(
                    args.bucket_arn, [args.root_directory, *args.mirror_root_directories], args.kms_key_arn
                )
            ),
            opts=child,
        )
        return task_role, task_policy

    def _task_definition(
        self,
        name: str,
        args: AwsServiceArgs,
        execution_role: aws.iam.Role,
        task_role: aws.iam.Role,
        secret: aws.secretsmanager.Secret,
        version: aws.secretsmanager.SecretVersion,
        logs: aws.cloudwatch.LogGroup,
    ) -> aws.ecs.TaskDefinition:
        containers = pulumi.Output.all(
            args.registry_config,
            args.edge_certificate,
            secret.arn,
            version.version_id,
            logs.name,
            args.edge_config,
            *args.mirror_configs,
        ).apply(lambda v: json.dumps(_task_containers(args, v)))
        cpu, memory = task_size(len(args.mirror_configs))
        volumes = ["registry-config", "edge-config", "edge-cache", *map(mirror_volume, range(len(args.mirror_configs)))]
        return aws.ecs.TaskDefinition(
            f"{name}-task",
            family=args.family,
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=cpu,
            memory=memory,
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX", cpu_architecture="ARM64"
            ),
            execution_role_arn=execution_role.arn,
            task_role_arn=task_role.arn,
            volumes=[aws.ecs.TaskDefinitionVolumeArgs(name=v) for v in volumes],
            container_definitions=containers,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _service(
        self,
        name: str,
        args: AwsServiceArgs,
        cluster: aws.ecs.Cluster,
        task: aws.ecs.TaskDefinition,
        task_policy: aws.iam.RolePolicy,
    ) -> aws.ecs.Service:
        """Fargate spreads the tasks over the subnets' zones; deploys keep every task until new ones serve."""
        return aws.ecs.Service(
            f"{name}-service",
            cluster=cluster.arn,
            task_definition=task.arn,
            launch_type="FARGATE",
            platform_version="1.4.0",
            desired_count=args.replicas,
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=args.subnet_ids, security_groups=[args.security_group_id], assign_public_ip=False
            ),
            load_balancers=[
                aws.ecs.ServiceLoadBalancerArgs(target_group_arn=arn, container_name="edge", container_port=port)
                for arn, port in [(args.target_group_arn, EDGE_PORT), *args.mirror_target_groups]
            ],
            health_check_grace_period_seconds=60,
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(enable=True, rollback=True),
            availability_zone_rebalancing="ENABLED",
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            wait_for_steady_state=True,
            # autoscaling owns the running count after creation; replicas is its floor (_autoscaling)
            opts=pulumi.ResourceOptions(parent=self, depends_on=[task_policy], ignore_changes=["desiredCount"]),
        )

    def _autoscaling(self, name: str, args: AwsServiceArgs, cluster: aws.ecs.Cluster, service: aws.ecs.Service) -> None:
        child = pulumi.ResourceOptions(parent=self)
        scaling = aws.appautoscaling.Target(
            f"{name}-scaling",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=pulumi.Output.concat("service/", cluster.name, "/", service.name),
            min_capacity=args.replicas,
            max_capacity=args.max_replicas,
            opts=child,
        )
        for policy_name, metric, target, label in (
            ("cpu", "ECSServiceAverageCPUUtilization", CPU_TARGET_PERCENT, None),
            ("requests", "ALBRequestCountPerTarget", REQUESTS_PER_TARGET, args.scaling_label),
        ):
            aws.appautoscaling.Policy(
                f"{name}-scale-on-{policy_name}",
                policy_type="TargetTrackingScaling",
                service_namespace=scaling.service_namespace,
                scalable_dimension=scaling.scalable_dimension,
                resource_id=scaling.resource_id,
                target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                    target_value=target,
                    predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                        predefined_metric_type=metric, resource_label=label
                    ),
                    scale_out_cooldown=60,
                    scale_in_cooldown=300,
                ),
                opts=child,
            )


def log_group_resource_name(service: str) -> str:
    """The log group's resource name in the AwsService named `service`: Pulumi names the group after it
    (`<resource name>-<7 random characters>`), which the logs key's policy matches."""
    return f"{service}-logs"


def secret_values(secrets: TaskSecrets) -> dict[str, pulumi.Input[str]]:
    """The task secret's JSON keys, as the containers' `secrets` name them."""
    values: dict[str, pulumi.Input[str]] = {
        "httpSecret": secrets.http_secret,
        "htpasswd": secrets.htpasswd,
        "tlsKey": secrets.tls_key,
    }
    if secrets.redis_password is not None:
        values["redisPassword"] = secrets.redis_password
    if secrets.redis_client_certificate is not None and secrets.redis_client_key is not None:
        values["redisClientCert"] = secrets.redis_client_certificate
        values["redisClientKey"] = secrets.redis_client_key
    for index, token in secrets.mirror_tokens.items():
        values[mirror_token_key(index)] = token
    for index, login in secrets.mirror_logins.items():
        values[mirror_login_key(index)] = login
    values.update(secrets.notification_headers)  # the key is the variable's own name
    return values


def _task_containers(args: AwsServiceArgs, v: Sequence[Any]) -> list[dict[str, Any]]:
    """container_definitions from the resolved (registry config, edge certificate, secret ARN,
    secret version, log group, edge config, *mirror configs)."""
    return container_definitions(
        images=args.images,
        registry_config=v[0],
        edge_config=v[5],
        edge_certificate=v[1],
        secret_arn=v[2],
        secrets_version=v[3],
        log_group=v[4],
        region=args.region,
        redis=args.secrets.redis_password is not None,
        registry_environment=args.registry_environment,
        registry_secrets=sorted(args.secrets.notification_headers),
        mirrors=[
            MirrorContainer(
                index=i,
                config=config,
                port=MIRROR_PORTS_FROM + i,
                token=i in args.secrets.mirror_tokens,
                ca_certificate=ca,
            )
            for i, (config, ca) in enumerate(zip(v[6:], args.mirror_ca_certificates, strict=True))
        ],
        edge_ports=[port for _, port in args.mirror_target_groups],
    )


def awslogs(log_group: str, region: str, prefix: str) -> dict[str, Any]:
    """A container's logConfiguration: streams `<prefix>/<container>/<task id>` in the stack's log group."""
    return {
        "logDriver": "awslogs",
        "options": {"awslogs-group": log_group, "awslogs-region": region, "awslogs-stream-prefix": prefix},
    }


def ecs_environment(variables: Mapping[str, str]) -> list[dict[str, str]]:
    """A container definition's `environment` entries."""
    return [{"name": name, "value": value} for name, value in variables.items()]


def start_script(files: Mapping[str, str], command: str, private: frozenset[str] = frozenset()) -> str:
    """Shell for `sh -c`: write each variable to its file, drop the variables, exec the server."""
    return "\n".join([*_write_files(files, private), f"exec {command}"])


def _write_files(files: Mapping[str, str], private: frozenset[str]) -> list[str]:
    lines = ["set -eu", "umask 077"]
    for variable, path in files.items():
        lines.append(f"printf '%s' \"${variable}\" > {path}")
        if variable not in private:
            lines.append(f"chmod 644 {path}")  # nginx workers (user nginx) read the htpasswd files
    return [*lines, f"unset {' '.join(files)}"]


def mirror_token_key(index: int) -> str:
    """The task secret's JSON key for mirror `index`'s upstream token."""
    return f"mirror{index}Token"


def mirror_login_key(index: int) -> str:
    """The task secret's JSON key for mirror `index`'s upstream login, as the edge sends it."""
    return f"mirror{index}Login"


def mirror_volume(index: int) -> str:
    return f"mirror-{index}-config"


def container_definitions(
    *,
    images: Mapping[str, str],
    registry_config: str,
    edge_config: str,
    edge_certificate: str,
    secret_arn: str,
    secrets_version: str,
    log_group: str,
    region: str,
    redis: bool,
    mirrors: Sequence[MirrorContainer] = (),
    edge_ports: Sequence[int] = (),
    registry_environment: Mapping[str, str] | None = None,
    registry_secrets: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """The task's containers, as ECS's JSON (camelCase): the registry (with `registry_environment`
    added to its environment), the edge (also on `edge_ports`, the mirrors' root listeners) and one
    container per mirror. `registry_secrets`: more variables for the registry, each from the task
    secret's key of the same name (the webhooks' headers)."""
    task = _Task(secret_arn, secrets_version, log_group, region)
    registry = _registry_container(
        images["registry"], registry_config, task, redis=redis, extra=registry_environment or {}
    )
    registry["secrets"] += [task.secret(variable, variable) for variable in registry_secrets]
    return [
        registry,
        _edge_container(images["edge"], edge_config, edge_certificate, task, edge_ports, mirrors),
        *(_mirror_definition(m, images["registry"], task.secret, task.logs, _health_check, redis) for m in mirrors),
    ]


@dataclass(frozen=True)
class _Task:
    """What every container of a task definition refers to: the task secret and the log group."""

    secret_arn: str
    secrets_version: str  # in every container's environment: a new secret version rolls the tasks
    log_group: str
    region: str

    def secret(self, variable: str, key: str) -> dict[str, str]:
        return {"name": variable, "valueFrom": f"{self.secret_arn}:{key}::"}

    def logs(self, prefix: str) -> dict[str, Any]:
        return awslogs(self.log_group, self.region, prefix)


def _health_check(command: list[str]) -> dict[str, Any]:
    return {
        "command": command,
        "interval": health.INTERVAL_SECONDS,
        "timeout": health.TIMEOUT_SECONDS,
        "retries": health.RETRIES,
        "startPeriod": health.START_PERIOD_SECONDS,
    }


def _registry_container(
    image: str, registry_config: str, task: _Task, *, redis: bool, extra: Mapping[str, str]
) -> dict[str, Any]:
    config_path = CONFIG_PATH["3"]
    registry_secrets = [task.secret(SECRET_ENV["3"]["http_secret"], "httpSecret")]
    if redis:
        registry_secrets += redis_secrets(task.secret)
    return {
        "name": "registry",
        "image": image,
        "essential": True,
        "entryPoint": ["/bin/sh", "-c"],
        "command": [
            start_script(
                {"CONFIG_YML": config_path, **(REDIS_TLS_FILES if redis else {})},
                f"registry serve {config_path}",
                private=frozenset({"REDIS_TLS_KEY"}),
            )
        ],
        "environment": [
            {"name": "CONFIG_YML", "value": registry_config},
            *ecs_environment(REGISTRY_ENVIRONMENT),
            *ecs_environment(extra),
            {"name": "SECRETS_VERSION", "value": task.secrets_version},
        ],
        "secrets": registry_secrets,
        "mountPoints": [{"sourceVolume": "registry-config", "containerPath": config_dir("3")}],
        "readonlyRootFilesystem": True,
        "linuxParameters": {"initProcessEnabled": True},
        "stopTimeout": STOP_TIMEOUT_SECONDS,
        "healthCheck": _health_check(health.registry_alive(REGISTRY_PORT)),
        "logConfiguration": task.logs("registry"),
    }


def _edge_mirror_files(
    mirrors: Sequence[MirrorContainer], task: _Task
) -> tuple[dict[str, str], list[dict[str, str]], list[dict[str, str]]]:
    """(variable -> file, environment, secrets) of what the edge explains mirror failures with:
    mirror_login.js, each mirror's upstream login (workers read it: 0644 in the edge's own volume)
    and private CA."""
    if not mirrors:
        return {}, [], []
    files = {"MIRROR_JS": EDGE_FILES.mirror_script}
    environment = [{"name": "MIRROR_JS", "value": mirror_login_script()}]
    secrets = []
    for m in mirrors:
        if m.token:
            files[f"MIRROR_{m.index}_LOGIN"] = EDGE_FILES.mirror_login(m.index)
            secrets.append(task.secret(f"MIRROR_{m.index}_LOGIN", mirror_login_key(m.index)))
        if m.ca_certificate is not None:
            files[f"MIRROR_{m.index}_CA"] = EDGE_FILES.mirror_ca(m.index)
            environment.append({"name": f"MIRROR_{m.index}_CA", "value": m.ca_certificate})
    return files, environment, secrets


def _edge_container(
    image: str,
    edge_config: str,
    edge_certificate: str,
    task: _Task,
    edge_ports: Sequence[int],
    mirrors: Sequence[MirrorContainer] = (),
) -> dict[str, Any]:
    mirror_files, mirror_environment, mirror_secrets = _edge_mirror_files(mirrors, task)
    edge_files = {
        "NGINX_CONF": f"{EDGE_DIR}/nginx.conf",
        "TLS_CERT": EDGE_FILES.certificate,
        "TLS_KEY": EDGE_FILES.certificate_key,
        "HTPASSWD": EDGE_FILES.htpasswd,
        **mirror_files,
    }
    command = f"nginx -e stderr -c {EDGE_DIR}/nginx.conf -g 'daemon off;'"
    return {
        "name": "edge",
        "image": image,
        "essential": True,
        "entryPoint": ["/bin/sh", "-c"],
        "command": [start_script(edge_files, command, private=frozenset({"TLS_KEY"}))],
        "portMappings": [{"containerPort": port, "protocol": "tcp"} for port in (EDGE_PORT, *edge_ports)],
        "environment": [
            {"name": "NGINX_CONF", "value": edge_config},
            {"name": "TLS_CERT", "value": edge_certificate},
            {"name": "SECRETS_VERSION", "value": task.secrets_version},
            *mirror_environment,
        ],
        "secrets": [task.secret("TLS_KEY", "tlsKey"), task.secret("HTPASSWD", "htpasswd"), *mirror_secrets],
        "mountPoints": [
            {"sourceVolume": "edge-config", "containerPath": EDGE_DIR},
            {"sourceVolume": "edge-cache", "containerPath": EDGE_CACHE},
        ],
        "readonlyRootFilesystem": True,
        "dependsOn": [{"containerName": "registry", "condition": "HEALTHY"}],
        "linuxParameters": {"initProcessEnabled": True},
        "stopTimeout": STOP_TIMEOUT_SECONDS,
        "healthCheck": _health_check(health.edge_alive(EDGE_HEALTH_PORT)),
        "logConfiguration": task.logs("edge"),
    }


def redis_secrets(secret: Callable[[str, str], dict[str, str]]) -> list[dict[str, str]]:
    """What a registry or mirror container needs of the task secret to reach Redis over TLS."""
    return [
        secret(SECRET_ENV["3"]["redis_password"], "redisPassword"),
        secret("REDIS_TLS_CERT", "redisClientCert"),
        secret("REDIS_TLS_KEY", "redisClientKey"),
    ]


def _mirror_definition(
    mirror: MirrorContainer,
    image: str,
    secret: Callable[[str, str], dict[str, str]],
    logs: Callable[[str], dict[str, Any]],
    health_check: Callable[[list[str]], dict[str, Any]],
    redis: bool,
) -> dict[str, Any]:
    """Not essential: a mirror (or its upstream) failing never takes the registry's task down. Its
    shell keeps distribution serving, restarting it while the upstream does not answer (it exits
    at start then: registry/proxy/proxyregistry.go), so ECS has nothing to restart."""
    config_path = CONFIG_PATH["3"]
    files = {"CONFIG_YML": config_path, **(REDIS_TLS_FILES if redis else {})}
    environment = [
        {"name": "CONFIG_YML", "value": mirror.config},
        *ecs_environment(REGISTRY_ENVIRONMENT),
    ]
    bundle: list[str] = []
    if mirror.ca_certificate is not None:
        ca = upstream_ca_path("3")
        files["UPSTREAM_CA"] = ca
        environment += [
            {"name": "UPSTREAM_CA", "value": mirror.ca_certificate},
            # Go's crypto/x509 then trusts only this file: the system roots are added to it, which
            # ElastiCache's certificate chains to (distribution 3.0.0 verifies Redis against them)
            {"name": "SSL_CERT_FILE", "value": ca},
        ]
        bundle = [f"cat {SYSTEM_CA_BUNDLE} >> {ca}"]
    secrets = [secret(SECRET_ENV["3"]["proxy_password"], mirror_token_key(mirror.index))] if mirror.token else []
    if redis:
        secrets += redis_secrets(secret)
    script = [*_write_files(files, frozenset({"REDIS_TLS_KEY"})), *bundle, mirror_serve_script(config_path)]
    return {
        "name": f"mirror-{mirror.index}",
        "image": image,
        "essential": False,
        "entryPoint": ["/bin/sh", "-c"],
        "command": ["\n".join(script)],
        "environment": environment,
        "secrets": secrets,
        "mountPoints": [{"sourceVolume": mirror_volume(mirror.index), "containerPath": config_dir("3")}],
        "readonlyRootFilesystem": True,
        "linuxParameters": {"initProcessEnabled": True},
        "stopTimeout": STOP_TIMEOUT_SECONDS,
        "healthCheck": health_check(health.registry_alive(mirror.port)),
        "logConfiguration": logs(f"mirror-{mirror.index}"),
    }


CA_BUNDLE_DIR = "/ca-bundle"


def cache_flush_definitions(
    *,
    images: Mapping[str, str],
    redis_address: str,
    secret_arn: str,
    secrets_version: str,
    log_group: str,
    region: str,
) -> list[dict[str, Any]]:
    """Two containers: the edge image (nginx:alpine installs ca-certificates, whose bundle holds the
    Amazon roots ElastiCache's certificates chain to) hands its CA bundle over, then redis-cli (the
    redis image has no CA bundle) runs FLUSHDB over TLS with the auth token from the task secret."""
    host, port = redis_address.rsplit(":", 1)
    bundle = f"{CA_BUNDLE_DIR}/ca-certificates.crt"

    def logs(prefix: str) -> dict[str, Any]:
        return awslogs(log_group, region, prefix)

    mount = [{"sourceVolume": "ca-bundle", "containerPath": CA_BUNDLE_DIR}]
    return [
        {
            "name": "ca-bundle",
            "image": images["edge"],
            "essential": False,
            "entryPoint": ["/bin/sh", "-c"],
            "command": [f"cp {SYSTEM_CA_BUNDLE} {bundle}"],
            "mountPoints": mount,
            "readonlyRootFilesystem": True,
            "logConfiguration": logs("cache-flush"),
        },
        {
            "name": "flush",
            "image": images["redis"],
            "essential": True,
            "dependsOn": [{"containerName": "ca-bundle", "condition": "SUCCESS"}],
            "entryPoint": ["/bin/sh", "-c"],
            # redis-cli prints OK for a flushed database; anything else fails the task
            "command": [
                f"redis-cli --tls --cacert {bundle} -h {host} -p {port} --no-auth-warning FLUSHDB | grep -qx OK"
            ],
            "environment": [{"name": "SECRETS_VERSION", "value": secrets_version}],
            "secrets": [{"name": "REDISCLI_AUTH", "valueFrom": f"{secret_arn}:redisPassword::"}],
            "mountPoints": mount,
            "readonlyRootFilesystem": True,
            "logConfiguration": logs("cache-flush"),
        },
    ]


def gc_definitions(*, image: str, registry_config: str, log_group: str, region: str) -> list[dict[str, Any]]:
    """One container: the registry image's `garbage-collect` with the service's own config (the same
    file, so the same bucket and root). Never --delete-untagged (distribution#3178 on 2.8; untagged
    manifests are retention's, by age). Flags as registry/root.go GCCmd defines them."""
    config_path = CONFIG_PATH["3"]
    collect = f"registry garbage-collect {config_path} ${{{GC_DRY_RUN_ENV}:+--dry-run}}"
    return [
        {
            "name": GC_CONTAINER,
            "image": image,
            "essential": True,
            "entryPoint": ["/bin/sh", "-c"],
            "command": [start_script({"CONFIG_YML": config_path}, collect)],
            "environment": [{"name": "CONFIG_YML", "value": registry_config}, *ecs_environment(REGISTRY_ENVIRONMENT)],
            "mountPoints": [{"sourceVolume": "registry-config", "containerPath": config_dir("3")}],
            "readonlyRootFilesystem": True,
            "logConfiguration": awslogs(log_group, region, GC_LOG_PREFIX),
        }
    ]
