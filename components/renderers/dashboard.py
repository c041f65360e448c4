"""The aws target's CloudWatch dashboard: its body JSON from resolved names, as plain data.

One dashboard per region of a stack (components/aws/observability.py): what the registry is doing
(requests, errors, latency), whether it can (healthy edges, task CPU and memory, the cache), what it
holds (the bucket) and the alarms. Widgets and the metric array format follow "Dashboard Body
Structure and Syntax"
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html):
each metric is [namespace, name, dimension, value, ..., {rendering options}].

Metric names and dimensions, as AWS documents them:
- AWS/ApplicationELB (LoadBalancer: the ALB's arn_suffix; TargetGroup: the target group's):
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
- AWS/ECS CPUUtilization, MemoryUtilization (ClusterName, ServiceName; Fargate publishes them without
  Container Insights): https://docs.aws.amazon.com/AmazonECS/latest/developerguide/available-metrics.html
- AWS/ElastiCache CacheHits, CacheMisses, Evictions (CacheClusterId: each node of the replication group):
  https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/CacheMetrics.Redis.html
- AWS/S3 BucketSizeBytes (StorageType StandardStorage) and NumberOfObjects (StorageType AllStorageTypes),
  once a day: https://docs.aws.amazon.com/AmazonS3/latest/userguide/metrics-dimensions.html
- AWS/States Executions* (StateMachineArn):
  https://docs.aws.amazon.com/step-functions/latest/dg/procedure-cw-metrics.html
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

ALB = "AWS/ApplicationELB"
WIDTH = 24  # the dashboard grid's width
HEIGHT = 6
MINUTE = 60
DAY = 86400


@dataclass(frozen=True)
class DashboardTargets:
    """What the widgets show, resolved: names and ARN suffixes as CloudWatch's dimensions take them."""

    region: str
    load_balancer: str  # the ALB's arn_suffix ("app/<name>/<id>")
    target_group: str  # the edge target group's arn_suffix ("targetgroup/<name>/<id>")
    cluster: str
    service: str
    bucket: str
    cache_clusters: Sequence[str] = ()  # the replication group's member clusters; none: no cache
    state_machine_arn: str | None = None  # the scheduled gc's state machine; None: no schedule
    alarm_arns: Sequence[str] = ()


def dashboard_body(t: DashboardTargets) -> dict[str, Any]:
    """The dashboard: the alarms across the top, then one row per concern, two widgets a row."""
    rows: list[list[dict[str, Any]]] = [
        [_requests(t), _errors(t)],
        [_latency(t), _hosts(t)],
        [_tasks(t)],
    ]
    if t.cache_clusters:
        rows.append([_cache(t)])
    rows.append(_storage(t))
    if t.state_machine_arn is not None:
        rows.append([_gc(t)])
    widgets: list[dict[str, Any]] = []
    y = 0
    if t.alarm_arns:
        widgets.append(_at({"type": "alarm", "properties": {"title": "Alarms", "alarms": list(t.alarm_arns)}}, 0, y, 3))
        y += 3
    for row in rows:
        width = WIDTH // len(row)
        widgets += [_at(widget, k * width, y, HEIGHT, width) for k, widget in enumerate(row)]
        y += HEIGHT
    return {"widgets": widgets}


def _at(widget: dict[str, Any], x: int, y: int, height: int, width: int = WIDTH) -> dict[str, Any]:
    return {**widget, "x": x, "y": y, "width": width, "height": height}


def _graph(t: DashboardTargets, title: str, metrics: list[list[Any]], stat: str, period: int) -> dict[str, Any]:
    properties = {"title": title, "region": t.region, "view": "timeSeries", "stat": stat, "period": period}
    return {"type": "metric", "properties": {**properties, "metrics": metrics}}


def _alb(t: DashboardTargets, metric: str, **options: Any) -> list[Any]:
    """A load balancer metric: the whole ALB (what the ELB itself answered counts here too)."""
    return [ALB, metric, "LoadBalancer", t.load_balancer, *([options] if options else [])]


def _targets(t: DashboardTargets, metric: str, **options: Any) -> list[Any]:
    """A metric of the edge's target group on that load balancer."""
    return [
        ALB,
        metric,
        "TargetGroup",
        t.target_group,
        "LoadBalancer",
        t.load_balancer,
        *([options] if options else []),
    ]


def _requests(t: DashboardTargets) -> dict[str, Any]:
    return _graph(t, "Requests", [_alb(t, "RequestCount", label="requests")], "Sum", MINUTE)


def _errors(t: DashboardTargets) -> dict[str, Any]:
    metrics = [
        _alb(t, "HTTPCode_Target_4XX_Count", label="4xx from the edge"),
        _alb(t, "HTTPCode_ELB_4XX_Count", label="4xx from the load balancer"),
        _alb(t, "HTTPCode_Target_5XX_Count", label="5xx from the edge"),
        _alb(t, "HTTPCode_ELB_5XX_Count", label="5xx from the load balancer"),
    ]
    return _graph(t, "Errors (4xx, 5xx)", metrics, "Sum", MINUTE)


def _latency(t: DashboardTargets) -> dict[str, Any]:
    metrics = [
        _targets(t, "TargetResponseTime", stat="p50", label="p50"),
        _targets(t, "TargetResponseTime", stat="p99", label="p99"),
    ]
    return _graph(t, "Target response time (seconds)", metrics, "p99", MINUTE)


def _hosts(t: DashboardTargets) -> dict[str, Any]:
    metrics = [
        _targets(t, "HealthyHostCount", label="healthy edges"),
        _targets(t, "UnHealthyHostCount", label="unhealthy edges"),
    ]
    return _graph(t, "Edges behind the load balancer", metrics, "Minimum", MINUTE)


def _tasks(t: DashboardTargets) -> dict[str, Any]:
    service = ["ClusterName", t.cluster, "ServiceName", t.service]
    metrics = [
        ["AWS/ECS", "CPUUtilization", *service, {"label": "CPU %"}],
        ["AWS/ECS", "MemoryUtilization", *service, {"label": "memory %"}],
    ]
    return _graph(t, "Registry tasks: CPU and memory (% of the task size)", metrics, "Average", MINUTE)


def _cache(t: DashboardTargets) -> dict[str, Any]:
    metrics = [
        ["AWS/ElastiCache", metric, "CacheClusterId", node, {"label": f"{label} ({node})"}]
        for node in t.cache_clusters
        for metric, label in (("CacheHits", "hits"), ("CacheMisses", "misses"), ("Evictions", "evictions"))
    ]
    return _graph(t, "Blob-descriptor cache (Redis)", metrics, "Sum", 5 * MINUTE)


def _storage(t: DashboardTargets) -> list[dict[str, Any]]:
    """S3 publishes storage metrics once a day: a month of daily points, whatever the dashboard's range."""
    size = _graph(
        t,
        "Bucket size (bytes, daily)",
        [["AWS/S3", "BucketSizeBytes", "BucketName", t.bucket, "StorageType", "StandardStorage"]],
        "Average",
        DAY,
    )
    objects = _graph(
        t,
        "Objects in the bucket (daily)",
        [["AWS/S3", "NumberOfObjects", "BucketName", t.bucket, "StorageType", "AllStorageTypes"]],
        "Average",
        DAY,
    )
    return [_month(size), _month(objects)]


def _month(widget: dict[str, Any]) -> dict[str, Any]:
    return {**widget, "properties": {**widget["properties"], "start": "-P30D"}}


def _gc(t: DashboardTargets) -> dict[str, Any]:
    assert t.state_machine_arn is not None
    metrics = [
        ["AWS/States", metric, "StateMachineArn", t.state_machine_arn, {"label": label}]
        for metric, label in (
            ("ExecutionsStarted", "started"),
            ("ExecutionsSucceeded", "succeeded"),
            ("ExecutionsFailed", "failed"),
            ("ExecutionsTimedOut", "timed out"),
        )
    ]
    return _month(_graph(t, "Scheduled garbage collection (runs a day)", metrics, "Sum", DAY))
