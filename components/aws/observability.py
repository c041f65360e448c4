"""What a person sees of the aws registry: alarms that mail, a dashboard, saved log queries.

    CloudWatch alarms ──ALARM / OK──> SNS topic (the stack's key) ──> an email per registry:alerts.emails
    dashboard: requests, errors, latency, edges, tasks, cache, bucket, garbage collection, the alarms
    Logs Insights queries over the stack's log group, reading the edge's JSON audit line

One per region of a stack (AwsRegistry makes it): an alarm can only notify a topic of its own region,
and each region has its own load balancer, tasks and log group. A secondary of registry:regions has no
cache and collects no garbage, so it has neither alarm.

Metric names, namespaces and dimensions as AWS documents them (each alarm names its page); the edge's
audit fields as components/renderers/audit.py writes them (the edge's stream prefix "edge": service.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.renderers.dashboard import ALB, DashboardTargets, dashboard_body

# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
ALB_METRICS_DOC = "load-balancer-cloudwatch-metrics.html"
# ECS/ContainerInsights RunningTaskCount (ClusterName, ServiceName), published with Container Insights on:
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-metrics-ECS.html
CONTAINER_INSIGHTS = "ECS/ContainerInsights"
# AWS/ElastiCache Evictions per node (CacheClusterId):
# https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/CacheMetrics.Redis.html
ELASTICACHE = "AWS/ElastiCache"
# AWS/States ExecutionsFailed, ExecutionsTimedOut (StateMachineArn):
# https://docs.aws.amazon.com/step-functions/latest/dg/procedure-cw-metrics.html
STATES = "AWS/States"
MINUTE = 60

# the edge's audit line (components/renderers/audit.py), in the "edge/edge/<task>" streams of the log group
EDGE_STREAMS = r"@logStream like /^edge\//"
# Logs Insights QL (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html) over
# the audit fields time, user, client, method, repository, reference, status, bytes, received, duration,
# request, agent. A tag never holds ':' and a digest always does ("sha256:...", "%3A" where a client
# escaped the upload's ?digest=), so a PUT of a tag is a manifest push and the PUT that closes a blob
# upload (also 201) is not; pushes by digest only (an index's children, signatures) are left out.
QUERIES: dict[str, str] = {
    "who deleted what": f"""fields time, user, client, repository, reference
| filter {EDGE_STREAMS} and method = "DELETE" and status = 202
| sort @timestamp desc
| limit 1000""",
    # a 401 that names a login: a wrong password or an expired robot account (an empty user is the
    # challenge every client gets before it sends credentials)
    "failed logins by address": f"""filter {EDGE_STREAMS} and status = 401 and user != ""
| stats count(*) as failures, latest(time) as last by client, user
| sort failures desc
| limit 1000""",
    "denied by access rules": f"""fields time, user, client, method, repository, reference
| filter {EDGE_STREAMS} and status = 403
| sort @timestamp desc
| limit 1000""",
    "slowest requests": f"""fields time, duration, method, repository, reference, status, bytes, received, user, client, request
| filter {EDGE_STREAMS} and ispresent(duration)
| sort duration desc
| limit 100""",
    "pushes by user": f"""filter {EDGE_STREAMS} and method = "PUT" and status = 201 and repository != "" and reference != ""
  and reference not like /:|%3[Aa]/
| stats count(*) as pushes, latest(time) as last by user, repository
| sort pushes desc
| limit 1000""",
}


@dataclass(frozen=True)
class AwsObservabilityArgs:
    family: str  # the task definition family: names the alarms, the dashboard and the queries
    region: str
    kms_key_arn: pulumi.Input[str]  # encrypts the topic; its policy lets CloudWatch alarms publish
    emails: Sequence[str]  # registry:alerts.emails
    p99_latency_seconds: float
    five_xx_percent: float
    replicas: int  # the service's floor (autoscaling's minimum)
    load_balancer_arn_suffix: pulumi.Input[str]
    target_group_arn_suffix: pulumi.Input[str]
    cluster_name: pulumi.Input[str]
    service_name: pulumi.Input[str]
    bucket_name: pulumi.Input[str]
    log_group_name: pulumi.Input[str]
    container_insights: bool  # RunningTaskCount exists only then
    cache_clusters: pulumi.Input[Sequence[str]] | None = None  # the replication group's member clusters
    cache_nodes: int = 0
    gc_state_machine_arn: pulumi.Input[str] | None = None  # registry:maintenance gc, scheduled


def dashboard_url(region: str, name: str) -> str:
    return f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards:name={name}"


class AwsObservability(pulumi.ComponentResource):
    """The alert topic and its subscriptions, the alarms, the dashboard and the saved queries."""

    alert_topic_arn: pulumi.Output[str]
    dashboard_name: str
    dashboard_url: str
    query_names: list[str]
    alarm_names: list[str]

    def __init__(self, name: str, args: AwsObservabilityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("registry:aws_observability:AwsObservability", name, None, opts)
        topic = self._topic(name, args)
        alarms = _Alarms(self, name, args, topic.arn)
        alarms.traffic()
        alarms.capacity()
        self.alarm_names = alarms.names
        self.dashboard_name = f"{args.family}-{args.region}"
        self._dashboard(name, args, [a.arn for a in alarms.made])
        self.query_names = self._queries(name, args)
        self.alert_topic_arn = topic.arn
        self.dashboard_url = dashboard_url(args.region, self.dashboard_name)
        self.register_outputs(
            {
                "alert_topic_arn": self.alert_topic_arn,
                "dashboard_url": self.dashboard_url,
                "query_names": self.query_names,
            }
        )

    def _topic(self, name: str, args: AwsObservabilityArgs) -> aws.sns.Topic:
        """The topic every alarm notifies, under the stack's key (SSE-KMS); an email subscription per
        address, which stays pending until its owner follows the link SNS mails. A subscription never
        confirmed cannot be deleted (SNS drops it after 3 days): removing its address only forgets it."""
        child = pulumi.ResourceOptions(parent=self)
        topic = aws.sns.Topic(
            f"{name}-alerts",
            display_name=f"registry alerts ({args.family}, {args.region})"[:100],
            kms_master_key_id=args.kms_key_arn,
            opts=child,
        )
        for address in args.emails:
            aws.sns.TopicSubscription(
                f"{name}-alerts-{address.lower()}",  # by address: removing one never moves another
                topic=topic.arn,
                protocol="email",
                endpoint=address,
                opts=child,
            )
        return topic

    def _dashboard(self, name: str, args: AwsObservabilityArgs, alarm_arns: list[pulumi.Output[str]]) -> None:
        body = pulumi.Output.all(
            load_balancer=args.load_balancer_arn_suffix,
            target_group=args.target_group_arn_suffix,
            cluster=args.cluster_name,
            service=args.service_name,
            bucket=args.bucket_name,
            cache=args.cache_clusters if args.cache_clusters is not None else [],
            machine=args.gc_state_machine_arn,
            alarms=pulumi.Output.all(*alarm_arns),
        ).apply(lambda v: json.dumps(dashboard_body(_targets(args.region, v))))
        aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=self.dashboard_name,
            dashboard_body=body,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _queries(self, name: str, args: AwsObservabilityArgs) -> list[str]:
        """Saved Logs Insights queries, in a folder named after the stack (the "/" in their names)."""
        names = []
        for title, query in QUERIES.items():
            names.append(f"{args.family}/{title}")
            aws.cloudwatch.QueryDefinition(
                f"{name}-query-{title.replace(' ', '-')}",
                name=names[-1],
                log_group_names=[args.log_group_name],
                query_string=query,
                opts=pulumi.ResourceOptions(parent=self),
            )
        return names


def _targets(region: str, v: Mapping[str, Any]) -> DashboardTargets:
    return DashboardTargets(
        region=region,
        load_balancer=v["load_balancer"],
        target_group=v["target_group"],
        cluster=v["cluster"],
        service=v["service"],
        bucket=v["bucket"],
        cache_clusters=sorted(v["cache"]),
        state_machine_arn=v["machine"],
        alarm_arns=list(v["alarms"]),
    )


def _summed(
    query_id: str, namespace: str, metric: str, dimensions: Mapping[str, pulumi.Input[str]], period: int
) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
    """One metric of a metric-math alarm, its Sum over `period`; not itself the alarm's value."""
    return aws.cloudwatch.MetricAlarmMetricQueryArgs(
        id=query_id,
        metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
            namespace=namespace, metric_name=metric, dimensions=dimensions, stat="Sum", period=period
        ),
        return_data=False,
    )


def _nth(values: pulumi.Output[list[str]], k: int) -> pulumi.Output[str]:
    return values.apply(lambda v: v[k])


class _Alarms:
    """Each alarm notifies the topic when it fires and when it clears; named <family>-<region>-<what>."""

    def __init__(self, owner: pulumi.Resource, name: str, args: AwsObservabilityArgs, topic_arn: pulumi.Output[str]):
        self.owner, self.name, self.args, self.topic_arn = owner, name, args, topic_arn
        self.made: list[aws.cloudwatch.MetricAlarm] = []
        self.names: list[str] = []

    def alarm(self, role: str, description: str, **settings: Any) -> None:
        args = self.args
        self.names.append(f"{args.family}-{args.region}-{role}")
        self.made.append(
            aws.cloudwatch.MetricAlarm(
                f"{self.name}-{role}",
                name=self.names[-1],
                alarm_description=f"{args.family} ({args.region}): {description}",
                actions_enabled=True,
                alarm_actions=[self.topic_arn],
                ok_actions=[self.topic_arn],
                **settings,
                opts=pulumi.ResourceOptions(parent=self.owner),
            )
        )

    def traffic(self) -> None:
        """What clients see at the load balancer (AWS/ApplicationELB, ALB_METRICS_DOC): errors, no edge, latency."""
        a = self.args
        edge = {"TargetGroup": a.target_group_arn_suffix, "LoadBalancer": a.load_balancer_arn_suffix}
        self.alarm(
            "5xx-rate",
            f"more than {a.five_xx_percent:g}% of requests got a 5xx in 3 of 5 minutes (the edge's and the load "
            "balancer's own, the gc write freeze's 503s among them); see the dashboard's errors and the edge log",
            metric_queries=self._five_xx_rate(),
            comparison_operator="GreaterThanThreshold",
            threshold=a.five_xx_percent,
            evaluation_periods=5,
            datapoints_to_alarm=3,
            treat_missing_data="notBreaching",  # no requests, no rate
        )
        # HealthyHostCount is reported while health checks run, traffic or not: no data means no target group
        self.alarm(
            "no-healthy-hosts",
            "no edge passed the load balancer's health check for 2 minutes: every request fails; see the ECS "
            "service's events and the registry and edge logs",
            namespace=ALB,
            metric_name="HealthyHostCount",
            dimensions=edge,
            statistic="Maximum",  # over the load balancer's nodes: down only when none sees a healthy edge
            period=MINUTE,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            threshold=1,
            comparison_operator="LessThanThreshold",
            treat_missing_data="breaching",
        )
        # TargetResponseTime runs until the edge starts its response: an upload's includes receiving its body
        self.alarm(
            "p99-latency",
            f"the slowest 1% of requests took more than {a.p99_latency_seconds:g} s at the edge for 5 minutes "
            "(uploads of large layers included); see the dashboard's latency and the 'slowest requests' query",
            namespace=ALB,
            metric_name="TargetResponseTime",
            dimensions=edge,
            extended_statistic="p99",
            evaluate_low_sample_count_percentiles="ignore",  # a handful of slow pushes is no trend
            period=MINUTE,
            evaluation_periods=5,
            datapoints_to_alarm=5,
            threshold=a.p99_latency_seconds,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
        )

    def _five_xx_rate(self) -> list[aws.cloudwatch.MetricAlarmMetricQueryArgs]:
        """100 * (target 5xx + load balancer 5xx) / requests, a minute at a time. The counts are only
        reported when non-zero, so a missing count is 0 (FILL); a minute without requests has no rate."""
        lb = {"LoadBalancer": self.args.load_balancer_arn_suffix}
        return [
            _summed("target5xx", ALB, "HTTPCode_Target_5XX_Count", lb, MINUTE),
            _summed("elb5xx", ALB, "HTTPCode_ELB_5XX_Count", lb, MINUTE),
            _summed("requests", ALB, "RequestCount", lb, MINUTE),
            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id="rate",
                expression="100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests",
                label="5xx responses, % of requests",
                return_data=True,
            ),
        ]

    def capacity(self) -> None:
        """What keeps the registry able to serve: enough tasks, a cache that holds, a collection that runs."""
        a = self.args
        if a.container_insights:
            self.alarm(
                "running-tasks",
                f"fewer than {a.replicas} tasks (registry:replicas) ran for 5 minutes: ECS cannot start or keep "
                "them; see the ECS service's events and stopped tasks",
                namespace=CONTAINER_INSIGHTS,
                metric_name="RunningTaskCount",
                dimensions={"ClusterName": a.cluster_name, "ServiceName": a.service_name},
                statistic="Maximum",
                period=MINUTE,
                evaluation_periods=5,
                datapoints_to_alarm=5,
                threshold=a.replicas,
                comparison_operator="LessThanThreshold",
                treat_missing_data="breaching",  # no running task reports nothing
            )
        if a.cache_clusters is not None and a.cache_nodes:
            self._evictions(a.cache_clusters, a.cache_nodes)
        if a.gc_state_machine_arn is not None:
            self._gc_failures(a.gc_state_machine_arn)

    def _evictions(self, clusters: pulumi.Input[Sequence[str]], nodes: int) -> None:
        """Evictions summed over the replication group's nodes (a failover moves the primary). The cache
        evicts by design when full (allkeys-lru): evicting for 15 minutes means it is too small."""
        members = pulumi.Output.from_input(clusters).apply(sorted)
        queries = [
            _summed(f"node{k}", ELASTICACHE, "Evictions", {"CacheClusterId": _nth(members, k)}, 5 * MINUTE)
            for k in range(nodes)
        ]
        total = " + ".join(f"FILL(node{k}, 0)" for k in range(nodes))
        queries.append(
            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id="evictions", expression=total, label="evictions", return_data=True
            )
        )
        self.alarm(
            "cache-evictions",
            "Redis evicted keys for 15 minutes: the blob-descriptor cache is full and pulls reach S3 more often; "
            "raise registry:cache.nodeType",
            metric_queries=queries,
            comparison_operator="GreaterThanThreshold",
            threshold=0,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            treat_missing_data="notBreaching",
        )

    def _gc_failures(self, machine_arn: pulumi.Input[str]) -> None:
        """A scheduled collection that failed or timed out (components/aws/maintenance.py: it fails whenever a
        step did, after lifting the write freeze). It clears 5 minutes later: OK then means no new failure."""
        machine = {"StateMachineArn": machine_arn}

        self.alarm(
            "gc-failed",
            "a scheduled garbage collection failed or timed out; its execution's events in Step Functions name the "
            "step, and `python -m tools.maintenance gc` lifts a write freeze it may have left",
            metric_queries=[
                _summed("failed", STATES, "ExecutionsFailed", machine, 5 * MINUTE),
                _summed("timedout", STATES, "ExecutionsTimedOut", machine, 5 * MINUTE),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="failures",
                    expression="FILL(failed, 0) + FILL(timedout, 0)",
                    label="failed or timed-out collections",
                    return_data=True,
                ),
            ],
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=1,
            evaluation_periods=1,
            treat_missing_data="notBreaching",
        )
