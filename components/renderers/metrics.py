"""The edge's metrics listener: each registry's Prometheus metrics and nginx's own request
figures, for admins only, on a port of their own (local: published on 127.0.0.1 only).

A registry's debug listener serves /debug/vars (the whole configuration, secrets included) and
whatever else http.DefaultServeMux holds beside /metrics (registry/registry.go
configureDebugServer), so nothing reaches it but this server, and this server passes on exactly
`/metrics` of each instance (`location =`); every other path is 404. nginx's figures come from
`stub_status` (connections and the request counter).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import yaml

from components.renderers.distribution import METRICS_PATH

EDGE_STATUS_PATH = "/metrics/edge"


def registry_metrics_path(index: int) -> str:
    return f"/metrics/registry/{index}"


@dataclass(frozen=True)
class EdgeMetrics:
    listen_port: int
    registries: Sequence[str]  # host:port of each registry's debug listener, in instance order
    readers: Sequence[str]  # who may read them: the admins (registry:users access admin)


def metrics_server(metrics: EdgeMetrics, *, listen_address: str | None, names: str, tls: str, htpasswd: str) -> str:
    """The http-level map and server of the metrics listener."""
    listen = f"{listen_address}:{metrics.listen_port}" if listen_address else str(metrics.listen_port)
    readers = "".join(f'        "{user}" 1;\n' for user in sorted(metrics.readers))
    registries = "".join(
        f"""        location = {registry_metrics_path(i)} {{
            proxy_pass http://{address}{METRICS_PATH};
            proxy_set_header Authorization "";
        }}
"""
        for i, address in enumerate(metrics.registries)
    )
    return f"""
    map $remote_user $edge_metrics_reader {{
        default 0;
{readers}    }}

    # metrics for admins: each registry's /metrics and nginx's stub_status, nothing else
    server {{
        listen {listen} ssl;
        server_name {names};
{tls}
        access_log off;
        auth_basic "registry metrics";
        auth_basic_user_file {htpasswd};
        auth_request /_edge/metrics-reader;  # after auth_basic: $remote_user is proven

        location = /_edge/metrics-reader {{
            internal;
            auth_basic off;
            auth_request off;
            if ($edge_metrics_reader) {{
                return 204;
            }}
            return 403;
        }}

        location = {EDGE_STATUS_PATH} {{
            stub_status;
        }}
{registries}
        location / {{
            return 404;
        }}
    }}
"""


def prometheus_scrape_config(*, host: str, port: int, instances: int, user: str, ca_file: str) -> str:
    """Prometheus `scrape_configs`: one job per registry instance through the metrics listener
    (the password from a file; nginx's stub_status is not Prometheus text and is left out)."""
    job = {
        "job_name": "registry",
        "scheme": "https",
        "tls_config": {"ca_file": ca_file},
        "basic_auth": {"username": user, "password_file": f"{user}.password"},
        "static_configs": [{"targets": [f"{host}:{port}"]}],
    }
    jobs = []
    for index in range(instances):
        jobs.append({**job, "job_name": f"registry-{index}", "metrics_path": registry_metrics_path(index)})
    return yaml.safe_dump({"scrape_configs": jobs}, sort_keys=False)
