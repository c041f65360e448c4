"""registry:regions: how healthy each region is, as Route 53 sees it, and the names clients use.

    pull.<domain> ──latency record per region──> the nearest region whose health check passes ──> its ALB
    <domain> (push) ──alias──> the primary's ALB, or registry:regions.promoted's

A region's health is a CloudWatch alarm on its ALB's target group (no healthy edge behind it) that
a CLOUDWATCH_METRIC health check reads. Route 53's own HTTPS checkers would probe from the
internet, which registry:allowedCidrs usually keeps out, so they would see every region down; the
alarm is measured inside AWS. A region whose ALB publishes nothing counts as down
(insufficient_data_health_status "Unhealthy").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

HEALTH_METRIC = ("AWS/ApplicationELB", "HealthyHostCount")
HEALTH_PERIOD_SECONDS = 60  # ALB metrics are standard resolution: what Route 53 alarms support
HEALTH_PERIODS = 2  # two minutes without a healthy target: the region is down


@dataclass(frozen=True)
class AwsRegionHealthArgs:
    region: str  # where the load balancer and the alarm are
    alarm_name: str  # unique in the account and region
    load_balancer_arn_suffix: pulumi.Input[str]  # CloudWatch's LoadBalancer dimension
    target_group_arn_suffix: pulumi.Input[str]  # CloudWatch's TargetGroup dimension


class AwsRegionHealth(pulumi.ComponentResource):
    """The alarm (in the caller's provider's region) and the Route 53 health check that reads it."""

    health_check_id: pulumi.Output[str]

    def __init__(self, name: str, args: AwsRegionHealthArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("registry:aws_regions:AwsRegionHealth", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        namespace, metric = HEALTH_METRIC
        # the ALB's HealthyHostCount of the edge target group (metric and dimensions as in
        # https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html);
        # Maximum over the load balancer's nodes: down only when no zone has a healthy edge
        alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-alarm",
            name=args.alarm_name,
            alarm_description=f"registry in {args.region}: no healthy edge behind the load balancer (Route 53 health)",
            namespace=namespace,
            metric_name=metric,
            dimensions={"TargetGroup": args.target_group_arn_suffix, "LoadBalancer": args.load_balancer_arn_suffix},
            statistic="Maximum",
            period=HEALTH_PERIOD_SECONDS,
            evaluation_periods=HEALTH_PERIODS,
            datapoints_to_alarm=HEALTH_PERIODS,
            threshold=1,
            comparison_operator="LessThanThreshold",
            # no data leaves the alarm INSUFFICIENT_DATA, which the health check below counts as unhealthy
            treat_missing_data="missing",
            opts=child,
        )
        # type CLOUDWATCH_METRIC with cloudwatch_alarm_name/_region and insufficient_data_health_status:
        # https://www.pulumi.com/registry/packages/aws/api-docs/route53/healthcheck/ ("CloudWatch Alarm Check"),
        # CLOUDWATCH_METRIC: OK is healthy, ALARM unhealthy, INSUFFICIENT_DATA per InsufficientDataHealthStatus
        # (https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html)
        check = aws.route53.HealthCheck(
            f"{name}-check",
            type="CLOUDWATCH_METRIC",
            cloudwatch_alarm_name=alarm.name,
            cloudwatch_alarm_region=args.region,
            insufficient_data_health_status="Unhealthy",
            tags={"Name": f"{args.alarm_name} ({args.region})"},
            opts=child,
        )
        self.health_check_id = check.id
        self.register_outputs({"health_check_id": self.health_check_id})


@dataclass(frozen=True)
class RegionEndpoint:
    """One region's load balancer and health, as the records name them."""

    region: str
    dns_name: pulumi.Input[str]
    zone_id: pulumi.Input[str]  # the load balancer's canonical hosted zone (alias target)
    health_check_id: pulumi.Input[str]


@dataclass(frozen=True)
class AwsRegionsDnsArgs:
    hosted_zone_id: str
    push_domain: str  # registry:domain
    pull_domain: str
    endpoints: Sequence[RegionEndpoint]  # every region, the primary first
    push_region: str  # the region the push name points at: the primary, or registry:regions.promoted
    # the push alias as the primary's load balancer declared it before registry:regions (name, parent):
    # adopted, so adding regions to a stack updates that record in place instead of replacing it
    previous_push_record: tuple[str, pulumi.Resource] | None = None


class AwsRegionsDns(pulumi.ComponentResource):
    """The push alias and one latency record of the pull name per region, in the stack's zone."""

    def __init__(self, name: str, args: AwsRegionsDnsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("registry:aws_regions:AwsRegionsDns", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        push = next(e for e in args.endpoints if e.region == args.push_region)
        previous = args.previous_push_record
        aws.route53.Record(
            f"{name}-push",
            zone_id=args.hosted_zone_id,
            name=args.push_domain,
            type="A",
            aliases=[
                aws.route53.RecordAliasArgs(name=push.dns_name, zone_id=push.zone_id, evaluate_target_health=True)
            ],
            opts=pulumi.ResourceOptions(
                parent=self,
                aliases=[pulumi.Alias(name=previous[0], parent=previous[1])] if previous is not None else None,
            ),
        )
        # latency records: one per region, told apart by set_identifier; Route 53 answers with the region of
        # lowest latency to the client among those whose health check passes and whose target is healthy
        # (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resource-record-sets-values-latency-alias.html)
        for endpoint in args.endpoints:
            aws.route53.Record(
                f"{name}-pull-{endpoint.region}",
                zone_id=args.hosted_zone_id,
                name=args.pull_domain,
                type="A",
                set_identifier=endpoint.region,
                latency_routing_policies=[aws.route53.RecordLatencyRoutingPolicyArgs(region=endpoint.region)],
                aliases=[
                    aws.route53.RecordAliasArgs(
                        name=endpoint.dns_name, zone_id=endpoint.zone_id, evaluate_target_health=True
                    )
                ],
                health_check_id=endpoint.health_check_id,
                opts=child,
            )
        self.register_outputs({})
