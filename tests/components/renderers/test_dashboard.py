"""The aws dashboard's body: which widgets, which metrics (namespace, name, dimensions, statistic), laid out
on CloudWatch's 24-column grid, parsed back from the JSON the Dashboard resource receives."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.renderers.dashboard import DashboardTargets, dashboard_body

LB = "app/registry-lb-alb/0123456789abcdef"
TG = "targetgroup/registry-lb-edge/fedcba9876543210"
MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:registry-maintenance-gc-abc1234"
ALARMS = ["arn:aws:cloudwatch:eu-west-1:123456789012:alarm:registry-prod-eu-west-1-5xx-rate"]
FULL = DashboardTargets(
    region="eu-west-1",
    load_balancer=LB,
    target_group=TG,
    cluster="registry-cluster-abc1234",
    service="registry-service-def5678",
    bucket="registry-bucket-1234",
    cache_clusters=["registry-cache-redis-001", "registry-cache-redis-002"],
    state_machine_arn=MACHINE,
    alarm_arns=ALARMS,
)
BARE = DashboardTargets(
    region="us-east-1", load_balancer=LB, target_group=TG, cluster="c", service="s", bucket="b"
)  # a secondary region: no cache, no scheduled gc (and no alarms yet)


def widgets(targets: DashboardTargets) -> dict[str, dict[str, Any]]:
    """By title, from the body as CloudWatch reads it (JSON text parsed back)."""
    body = json.loads(json.dumps(dashboard_body(targets)))
    assert set(body) == {"widgets"}
    return {w["properties"]["title"]: w for w in body["widgets"]}


def metrics(widget: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Each metric without its rendering options: (namespace, name, dimension, value, ...)."""
    return [tuple(m for m in metric if not isinstance(m, dict)) for metric in widget["properties"]["metrics"]]


def options(widget: dict[str, Any]) -> list[dict[str, Any]]:
    return [next((m for m in metric if isinstance(m, dict)), {}) for metric in widget["properties"]["metrics"]]


ALB_LB = ("AWS/ApplicationELB",)


def test_every_widget_of_a_full_region() -> None:
    assert list(widgets(FULL)) == [
        "Alarms",
        "Requests",
        "Errors (4xx, 5xx)",
        "Target response time (seconds)",
        "Edges behind the load balancer",
        "Registry tasks: CPU and memory (% of the task size)",
        "Blob-descriptor cache (Redis)",
        "Bucket size (bytes, daily)",
        "Objects in the bucket (daily)",
        "Scheduled garbage collection (runs a day)",
    ]


def test_a_region_without_cache_or_schedule_leaves_their_widgets_out() -> None:
    titles = list(widgets(BARE))
    assert "Blob-descriptor cache (Redis)" not in titles and "Scheduled garbage collection (runs a day)" not in titles
    assert "Alarms" not in titles and "Bucket size (bytes, daily)" in titles
    assert all(w["properties"]["region"] == "us-east-1" for w in widgets(BARE).values() if w["type"] == "metric")


def test_requests_and_errors_are_the_load_balancers_sums_a_minute() -> None:
    w = widgets(FULL)
    assert metrics(w["Requests"]) == [("AWS/ApplicationELB", "RequestCount", "LoadBalancer", LB)]
    assert metrics(w["Errors (4xx, 5xx)"]) == [
        ("AWS/ApplicationELB", name, "LoadBalancer", LB)
        for name in (
            "HTTPCode_Target_4XX_Count",
            "HTTPCode_ELB_4XX_Count",
            "HTTPCode_Target_5XX_Count",
            "HTTPCode_ELB_5XX_Count",
        )
    ]
    for title in ("Requests", "Errors (4xx, 5xx)"):
        assert (w[title]["properties"]["stat"], w[title]["properties"]["period"]) == ("Sum", 60)
        assert w[title]["properties"]["region"] == "eu-west-1"


def test_latency_is_p50_and_p99_of_the_edge_target_group() -> None:
    w = widgets(FULL)["Target response time (seconds)"]
    edge = ("AWS/ApplicationELB", "TargetResponseTime", "TargetGroup", TG, "LoadBalancer", LB)
    assert metrics(w) == [edge, edge]
    assert [o["stat"] for o in options(w)] == ["p50", "p99"]


def test_healthy_edges_are_the_target_groups_minimum() -> None:
    w = widgets(FULL)["Edges behind the load balancer"]
    assert metrics(w) == [
        ("AWS/ApplicationELB", "HealthyHostCount", "TargetGroup", TG, "LoadBalancer", LB),
        ("AWS/ApplicationELB", "UnHealthyHostCount", "TargetGroup", TG, "LoadBalancer", LB),
    ]
    assert w["properties"]["stat"] == "Minimum"


def test_tasks_cpu_and_memory_of_the_service() -> None:
    w = widgets(FULL)["Registry tasks: CPU and memory (% of the task size)"]
    service = ("ClusterName", "registry-cluster-abc1234", "ServiceName", "registry-service-def5678")
    assert metrics(w) == [("AWS/ECS", "CPUUtilization", *service), ("AWS/ECS", "MemoryUtilization", *service)]
    assert w["properties"]["stat"] == "Average"


def test_cache_hits_misses_and_evictions_per_node() -> None:
    w = widgets(FULL)["Blob-descriptor cache (Redis)"]
    assert metrics(w) == [
        ("AWS/ElastiCache", metric, "CacheClusterId", node)
        for node in ("registry-cache-redis-001", "registry-cache-redis-002")
        for metric in ("CacheHits", "CacheMisses", "Evictions")
    ]
    assert w["properties"]["stat"] == "Sum"


def test_bucket_size_and_objects_are_daily_with_their_storage_types() -> None:
    w = widgets(FULL)
    size, objects = w["Bucket size (bytes, daily)"], w["Objects in the bucket (daily)"]
    assert metrics(size) == [
        ("AWS/S3", "BucketSizeBytes", "BucketName", "registry-bucket-1234", "StorageType", "StandardStorage")
    ]
    assert metrics(objects) == [
        ("AWS/S3", "NumberOfObjects", "BucketName", "registry-bucket-1234", "StorageType", "AllStorageTypes")
    ]
    for widget in (size, objects):  # S3 publishes once a day: a day's period over a month
        assert (widget["properties"]["period"], widget["properties"]["start"]) == (86400, "-P30D")


def test_gc_runs_of_the_state_machine() -> None:
    w = widgets(FULL)["Scheduled garbage collection (runs a day)"]
    assert metrics(w) == [
        ("AWS/States", metric, "StateMachineArn", MACHINE)
        for metric in ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut")
    ]
    assert (w["properties"]["stat"], w["properties"]["period"]) == ("Sum", 86400)


def test_the_alarm_widget_lists_the_regions_alarms() -> None:
    w = widgets(FULL)["Alarms"]
    assert w["type"] == "alarm" and w["properties"]["alarms"] == ALARMS


@pytest.mark.parametrize("targets", [FULL, BARE], ids=["full", "bare"])
def test_widgets_tile_the_grid_without_overlap(targets: DashboardTargets) -> None:
    cells: set[tuple[int, int]] = set()
    for w in dashboard_body(targets)["widgets"]:
        assert w["x"] >= 0 and w["x"] + w["width"] <= 24 and w["height"] > 0
        area = {(x, y) for x in range(w["x"], w["x"] + w["width"]) for y in range(w["y"], w["y"] + w["height"])}
        assert not area & cells, w["properties"]["title"]
        cells |= area
