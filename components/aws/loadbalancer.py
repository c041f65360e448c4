"""The public entry: an ALB that terminates TLS and forwards HTTPS to the tasks' edge sidecars.

Docker pushes a layer as one long request and the registry may take minutes to commit a
multi-GB blob in S3 before it answers, so the idle timeout matches the edge's 900 s proxy
timeouts. Requests go to the target with the fewest outstanding requests: a few long uploads
would otherwise pile up on one task under round robin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws import iam as aws_iam
from components.config import Storage
from components.storage import ObjectStorage, ObjectStorageArgs

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"  # TLS 1.3 and 1.2 with forward-secret ciphers only
IDLE_TIMEOUT_SECONDS = 900
HEALTH_CHECK_PATH = "/healthz"  # the edge answers it unauthenticated, proxied to the registry


@dataclass(frozen=True)
class AwsLoadBalancerArgs:
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]  # public, one per zone
    security_group_id: pulumi.Input[str]
    certificate_arn: pulumi.Input[str]
    target_port: int  # the edge sidecar's HTTPS port
    deletion_protection: bool = False
    domain: str | None = None  # with hosted_zone_id: an alias record for it
    hosted_zone_id: str | None = None
    access_log_days: int | None = None  # keep ALB access logs this long (CKV_AWS_91); None: no logs
    # mirrors with a listener of their own: (mirror name, the port clients use, the edge's port for it)
    mirror_listeners: Sequence[tuple[str, int, int]] = ()
    # more certificates the HTTPS listener serves by SNI (registry:regions' pull name), beside certificate_arn
    extra_certificate_arns: Sequence[pulumi.Input[str]] = ()


class AwsLoadBalancer(pulumi.ComponentResource):
    arn: pulumi.Output[str]  # what WAF associates with
    dns_name: pulumi.Output[str]
    zone_id: pulumi.Output[str]  # the ALB's canonical hosted zone, what alias records name
    arn_suffix: pulumi.Output[str]  # CloudWatch's LoadBalancer dimension
    target_group_arn: pulumi.Output[str]
    target_group_arn_suffix: pulumi.Output[str]  # CloudWatch's TargetGroup dimension
    scaling_label: pulumi.Output[str]  # ALBRequestCountPerTarget's resource label
    https_listener: aws.lb.Listener
    access_log_bucket: pulumi.Input[str] | None
    mirror_target_groups: list[tuple[pulumi.Output[str], int]]  # (ARN, the edge's port), as mirror_listeners

    def _access_log_bucket(self, name: str, days: int) -> tuple[pulumi.Output[str], aws.s3.BucketPolicy]:
        """A bucket of its own for the access logs: versioned, SSE-S3 (the only encryption ALB log
        delivery supports), private, expiring logs after `days`, writable only by log delivery."""
        logs = ObjectStorage(
            f"{name}-access-logs",
            ObjectStorageArgs(
                settings=Storage(
                    versioning=True, noncurrent_version_days=1, abort_incomplete_upload_days=1, force_destroy=True
                ),
                bucket_prefix="registry-alb-logs-",
                expire_objects_after_days=days,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        account = aws.get_caller_identity(opts=pulumi.InvokeOptions(parent=self)).account_id
        elb_account = aws.elb.get_service_account_output(opts=pulumi.InvokeOutputOptions(parent=self))
        policy = aws.s3.BucketPolicy(
            f"{name}-access-logs-policy",
            bucket=logs.bucket_name,
            policy=pulumi.Output.json_dumps(
                aws_iam.access_logs_bucket_policy(logs.bucket_arn, account, elb_account.arn)
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return logs.bucket_name, policy

    def __init__(self, name: str, args: AwsLoadBalancerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("registry:aws_loadbalancer:AwsLoadBalancer", name, None, opts)
        access_logs, log_policy = None, []
        if args.access_log_days is not None:
            bucket, policy = self._access_log_bucket(name, args.access_log_days)
            access_logs = aws.lb.LoadBalancerAccessLogsArgs(bucket=bucket, enabled=True)
            log_policy = [policy]
        alb = aws.lb.LoadBalancer(
            f"{name}-alb",
            load_balancer_type="application",
            internal=False,
            ip_address_type="ipv4",
            subnets=args.subnet_ids,
            security_groups=[args.security_group_id],
            drop_invalid_header_fields=True,
            idle_timeout=IDLE_TIMEOUT_SECONDS,
            preserve_host_header=True,
            enable_http2=True,
            enable_deletion_protection=args.deletion_protection,
            access_logs=access_logs,
            # ELB checks that it may write to the bucket when logging is turned on
            opts=pulumi.ResourceOptions(parent=self, depends_on=log_policy),
        )
        targets = self._edge_targets(f"{name}-edge", args.vpc_id, args.target_port)
        self.https_listener = self._https_listener(f"{name}-https", alb, 443, args.certificate_arn, targets)
        for k, certificate_arn in enumerate(args.extra_certificate_arns, start=1):
            # the listener keeps its default certificate; ListenerCertificate adds one to its SNI list
            aws.lb.ListenerCertificate(
                f"{name}-https-certificate-{k}",
                listener_arn=self.https_listener.arn,
                certificate_arn=certificate_arn,
                opts=pulumi.ResourceOptions(parent=self),
            )
        # each mirror with a port: a listener of its own, to the edge's listener with the mirror at its root
        self.mirror_target_groups = []
        for mirror, port, edge_port in args.mirror_listeners:
            mirror_targets = self._edge_targets(f"{name}-mirror-{mirror}", args.vpc_id, edge_port)
            self._https_listener(f"{name}-mirror-{mirror}", alb, port, args.certificate_arn, mirror_targets)
            self.mirror_target_groups.append((mirror_targets.arn, edge_port))
        self._http_redirect_and_alias(name, args, alb)
        self.dns_name, self.zone_id, self.arn_suffix = alb.dns_name, alb.zone_id, alb.arn_suffix
        self.arn = alb.arn
        self.target_group_arn_suffix = targets.arn_suffix
        self.access_log_bucket = access_logs.bucket if access_logs is not None else None
        self.target_group_arn = targets.arn
        self.scaling_label = pulumi.Output.concat(alb.arn_suffix, "/", targets.arn_suffix)
        self.register_outputs({"dns_name": self.dns_name, "target_group_arn": self.target_group_arn})

    def _http_redirect_and_alias(self, name: str, args: AwsLoadBalancerArgs, alb: aws.lb.LoadBalancer) -> None:
        """Port 80 only redirects to HTTPS; with a hosted zone, the domain's alias record."""
        child = pulumi.ResourceOptions(parent=self)
        aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=alb.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(
                    type="redirect",
                    redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                        protocol="HTTPS", port="443", status_code="HTTP_301"
                    ),
                )
            ],
            opts=child,
        )
        if args.hosted_zone_id and args.domain:
            aws.route53.Record(
                f"{name}-alias",
                zone_id=args.hosted_zone_id,
                name=args.domain,
                type="A",
                aliases=[
                    aws.route53.RecordAliasArgs(name=alb.dns_name, zone_id=alb.zone_id, evaluate_target_health=True)
                ],
                opts=child,
            )

    def _edge_targets(self, name: str, vpc_id: pulumi.Input[str], port: int) -> aws.lb.TargetGroup:
        """The tasks' edge on `port`, health-checked on that listener's /healthz."""
        return aws.lb.TargetGroup(
            name,
            target_type="ip",
            vpc_id=vpc_id,
            protocol="HTTPS",
            protocol_version="HTTP1",
            port=port,
            load_balancing_algorithm_type="least_outstanding_requests",
            deregistration_delay=120,  # lets most in-flight layer transfers finish during a deploy
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                enabled=True,
                protocol="HTTPS",
                port="traffic-port",
                path=HEALTH_CHECK_PATH,
                matcher="200",
                interval=15,
                timeout=5,
                healthy_threshold=2,
                unhealthy_threshold=3,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _https_listener(
        self,
        name: str,
        alb: aws.lb.LoadBalancer,
        port: int,
        certificate_arn: pulumi.Input[str],
        targets: aws.lb.TargetGroup,
    ) -> aws.lb.Listener:
        return aws.lb.Listener(
            name,
            load_balancer_arn=alb.arn,
            port=port,
            protocol="HTTPS",
            ssl_policy=TLS_POLICY,
            certificate_arn=certificate_arn,
            default_actions=[aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=targets.arn)],
            opts=pulumi.ResourceOptions(parent=self),
        )
