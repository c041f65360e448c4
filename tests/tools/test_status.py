"""tools.status: Prometheus text read as distribution writes it, and the screen's lines."""

from __future__ import annotations

import datetime

from tools.status import Status, parse_metrics, render, total

TEXT = """# HELP registry_http_requests_total The number of requests received.
# TYPE registry_http_requests_total counter
registry_http_requests_total{code="200",handler="blob",method="get"} 40
registry_http_requests_total{code="500",handler="manifest",method="put"} 2
registry_http_requests_total{code="503",handler="blob",method="get"} 3
registry_storage_cache_hits_total 18
registry_storage_cache_requests_total 20
registry_notifications_pending{endpoint="ci"} 4
"""


def test_samples_are_summed_by_name_and_label_pattern() -> None:
    samples = parse_metrics(TEXT)
    assert total(samples, "registry_http_requests_total") == 45
    assert total(samples, "registry_http_requests_total", code=r"5\d\d") == 5
    assert total(samples, "registry_storage_cache_hits_total") == 18
    assert total(samples, "registry_notifications_pending") == 4
    assert total(samples, "absent") == 0


def test_the_screen() -> None:
    status = Status(
        instances=3,
        answering=2,
        requests_per_second=12.5,
        active_connections=7,
        requests=45,
        server_errors=5,
        cache_hits=18,
        cache_lookups=20,
        pending_events=4,
        blobs=1234,
        blob_bytes=3 * 2**30,
        tags=10,
        repositories=2,
        runs={"gc": {"at": "2026-12-07T03:00:00Z", "report": ["freed 2 of 9 blobs"]}, "backup": None},
    )
    screen = render(status, name="local", url="https://localhost:5443", now=datetime.datetime(2026, 12, 7, 4, 0))
    assert screen.splitlines() == [
        "registry local (https://localhost:5443) at 2026-12-07 04:00:00 UTC",
        "  instances       2 of 3 registries answer",
        "  edge            12.5 requests/s, 7 connections open",
        "  errors          11.1 % 5xx of 45 registry requests since they started",
        "  cache           90.0 % hits of 20 lookups",
        "  webhooks        4 events queued",
        "  store           1,234 blobs, 3.0 GiB; 10 tags in 2 repositories",
        "  last gc         2026-12-07T03:00:00Z: freed 2 of 9 blobs",
        "  last backup     never",
    ]
