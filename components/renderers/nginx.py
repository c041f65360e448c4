"""nginx.conf for the TLS edge in front of N registry instances.

Auth is split by method: readers (every user) may GET/HEAD/OPTIONS; anything that writes
must match the push users' file. The directives under `_PROXY` are the ones FIELD-NOTES found
necessary behind a proxy (413s, lost ports in upload Locations, http:// Locations, ...).

Throughput (bench/dataplane.py): uploads stream to the registry unbuffered, read from the
client in 1 MiB pieces. Downloads ARE buffered, in memory only (`proxy_max_temp_file_size 0`:
a blob is never spooled to disk, the registry is just read ahead up to 4 MiB): unbuffered,
nginx writes each small upstream read as its own TLS record, which doubled its CPU per byte
and cost the client more to decrypt; pulls went from 0.74x to ~0.85x of a direct pull.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

READ_METHODS = ("GET", "HEAD", "OPTIONS")  # nginx: allowing GET also allows HEAD


@dataclass(frozen=True)
class EdgeFiles:
    """Where the edge finds its certificate and password files."""

    certificate: str = "/etc/nginx/tls/server.crt"
    certificate_key: str = "/etc/nginx/tls/server.key"
    htpasswd: str = "/etc/nginx/auth/htpasswd"  # every user: may read
    htpasswd_push: str = "/etc/nginx/auth/htpasswd.push"  # push users only: may also write


@dataclass(frozen=True)
class EdgeRuntime:
    """Process-level paths: the container image's defaults, or a sandbox's work dir."""

    user: str | None = "nginx"  # None: workers run as nobody (nginx started as root)
    pid: str = "/var/run/nginx.pid"
    error_log: str = "/dev/stderr"
    access_log: str = "/dev/stdout"
    temp_dir: str | None = None  # must be writable by the worker user


_PROXY = """\
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header Authorization "";
            proxy_request_buffering off;
            client_body_buffer_size 1m;
            proxy_buffering on;
            proxy_buffer_size 64k;
            proxy_buffers 4 1m;
            proxy_busy_buffers_size 2m;
            proxy_max_temp_file_size 0;
            proxy_connect_timeout 2s;
            proxy_read_timeout 900s;
            proxy_send_timeout 900s;
            proxy_next_upstream error timeout http_502 http_503 http_504;
            proxy_next_upstream_timeout 30s;"""


def render_nginx_config(
    *,
    server_name: str,
    upstreams: Sequence[str],
    listen_port: int = 443,
    listen_address: str | None = None,
    health_port: int | None = 8081,
    files: EdgeFiles = EdgeFiles(),
    runtime: EdgeRuntime = EdgeRuntime(),
    worker_processes: str = "auto",
) -> str:
    """The nginx.conf text. `upstreams` are host:port of every registry instance;
    `listen_address` None listens on every interface (a container), else only there."""
    if not upstreams:
        raise ValueError("the edge needs at least one upstream registry")
    if len(set(upstreams)) != len(upstreams):
        raise ValueError(f"upstreams must be distinct, got {list(upstreams)}")
    listen = f"{listen_address}:{listen_port}" if listen_address else str(listen_port)
    servers = "\n".join(f"        server {u} max_fails=1 fail_timeout=10s;" for u in upstreams)
    head = [f"user {runtime.user};"] if runtime.user else []
    head += [
        f"worker_processes {worker_processes};",
        f"pid {runtime.pid};",
        f"error_log {runtime.error_log} warn;",
        "",
        "events {",
        "    worker_connections 4096;",
        "}",
    ]
    temp = ""
    if runtime.temp_dir:
        temp = "".join(
            f"    {kind}_temp_path {runtime.temp_dir}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
    health = ""
    if health_port is not None:
        health = f"""
    # plain-HTTP health on loopback, for the container's own health check
    server {{
        listen 127.0.0.1:{health_port};
        access_log off;
        location = /healthz {{
            proxy_pass http://registry/;
{_PROXY}
        }}
    }}
"""
    return (
        "\n".join(head)
        + f"""

http {{
    log_format registry '$remote_addr $remote_user [$time_local] "$request" $status '
                        '$body_bytes_sent $request_time $upstream_addr "$http_user_agent"';
    access_log {runtime.access_log} registry;
    server_tokens off;
    tcp_nodelay on;
{temp}
    upstream registry {{
{servers}
        keepalive 64;
    }}

    # the registry sends this header itself; nginx's own 401s need it too
    map $upstream_http_docker_distribution_api_version $docker_distribution_api_version {{
        '' 'registry/2.0';
    }}

    server {{
        listen {listen} ssl;
        server_name {server_name};

        ssl_certificate {files.certificate};
        ssl_certificate_key {files.certificate_key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers HIGH:!aNULL:!MD5:!SHA1;
        ssl_session_cache shared:TLS:10m;
        ssl_session_timeout 1h;
        ssl_session_tickets off;

        client_max_body_size 0;
        chunked_transfer_encoding on;

        location /v2/ {{
            auth_basic "registry";
            auth_basic_user_file {files.htpasswd};
            limit_except {" ".join(READ_METHODS)} {{
                auth_basic "registry";
                auth_basic_user_file {files.htpasswd_push};
            }}
            add_header Docker-Distribution-Api-Version $docker_distribution_api_version always;
            proxy_pass http://registry;
{_PROXY}
        }}

        # unauthenticated liveness of the registries behind the edge (load balancer checks)
        location = /healthz {{
            access_log off;
            proxy_pass http://registry/;
{_PROXY}
        }}

        location / {{
            return 404;
        }}
    }}
{health}}}
"""
    )
