"""The edge's metrics listener on real processes: each registry's Prometheus metrics and nginx's
figures for admins only; /debug/vars (the registry's whole configuration) never through it."""

from __future__ import annotations

import ssl

import httpx
import pytest

from testbench.sandbox import Sandbox, SandboxUser
from tests.dataplane.helpers import edge_client
from tools.oci_image import build_image
from tools.verify import push_image

pytestmark = pytest.mark.dataplane


def metrics_client(sandbox: Sandbox, user: SandboxUser | None) -> httpx.Client:
    auth = (user.name, user.password) if user else None
    context = ssl.create_default_context(cafile=sandbox.ca_file)
    return httpx.Client(base_url=sandbox.metrics_url, verify=context, auth=auth, timeout=30)


def test_admins_read_every_registrys_prometheus_metrics_and_the_edges_figures(
    sandbox: Sandbox, admin: SandboxUser, pusher: SandboxUser
) -> None:
    with edge_client(sandbox, pusher) as client:
        push_image(client, "metrics/app", "v1", build_image([1024]))
    with metrics_client(sandbox, admin) as client:
        for index in range(len(sandbox.registry_urls)):
            response = client.get(f"/metrics/registry/{index}")
            assert response.status_code == 200, response.text
            assert "# TYPE registry_http_requests_total counter" in response.text
            assert "registry_storage_action_seconds" in response.text
        edge = client.get("/metrics/edge")
        assert edge.status_code == 200 and edge.text.startswith("Active connections:")
        assert "server accepts handled requests" in edge.text


def test_nobody_else_and_nothing_else(sandbox: Sandbox, pusher: SandboxUser, admin: SandboxUser) -> None:
    with metrics_client(sandbox, None) as anonymous:
        assert anonymous.get("/metrics/registry/0").status_code == 401
    with metrics_client(sandbox, pusher) as not_admin:
        assert not_admin.get("/metrics/registry/0").status_code == 403
    with metrics_client(sandbox, admin) as client:
        for path in ("/debug/vars", "/debug/pprof/", "/metrics/registry/0/../../debug/vars", "/metrics", "/v2/"):
            assert client.get(path).status_code == 404, path
        assert client.get("/metrics/registry/9").status_code == 404
    with edge_client(sandbox, admin) as main:  # the registry's own listener has no such paths either
        assert main.get("/metrics").status_code == 404
        assert main.get("/debug/vars").status_code == 404
