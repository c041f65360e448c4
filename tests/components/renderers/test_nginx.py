"""Golden checks of the edge's meaningful nginx.conf lines, and `nginx -t` on the result."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from components.renderers.nginx import EdgeFiles, EdgeRuntime, render_nginx_config
from tools.sandbox import write_certificates

UPSTREAMS = ["registry-0:5000", "registry-1:5000", "registry-2:5000"]


def render(**overrides: object) -> str:
    args: dict[str, object] = {"server_name": "registry.example.com", "upstreams": UPSTREAMS}
    return render_nginx_config(**{**args, **overrides})  # type: ignore[arg-type]


def block(conf: str, opening: str) -> str:
    """The text of the `{ ... }` block that starts at `opening` (braces balanced)."""
    start = conf.index(opening)
    depth = 0
    for position in range(conf.index("{", start), len(conf)):
        depth += {"{": 1, "}": -1}.get(conf[position], 0)
        if depth == 0:
            return conf[start : position + 1]
    raise AssertionError(f"unbalanced block at {opening!r}")


def directives(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def test_pushes_of_any_size_keep_their_port_and_scheme() -> None:
    conf = render()
    registry = block(conf, "location /v2/")
    assert "client_max_body_size 0;" in directives(conf)
    assert "proxy_set_header Host $http_host;" in directives(registry)
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in directives(registry)
    assert 'proxy_set_header Authorization "";' in directives(registry)


def test_api_version_header_is_added_always_even_on_nginx_401() -> None:
    registry = block(render(), "location /v2/")
    assert "add_header Docker-Distribution-Api-Version $docker_distribution_api_version always;" in directives(registry)
    mapping = block(render(), "map $upstream_http_docker_distribution_api_version")
    assert "'' 'registry/2.0';" in directives(mapping)


def test_uploads_stream_and_downloads_never_spool_to_disk() -> None:
    registry = directives(block(render(), "location /v2/"))
    assert "proxy_request_buffering off;" in registry
    assert "proxy_http_version 1.1;" in registry
    assert 'proxy_set_header Connection "";' in registry  # lets upstream keepalive work
    assert "proxy_max_temp_file_size 0;" in registry


def test_every_registry_is_an_upstream_kept_alive_with_failover() -> None:
    conf = render()
    upstream = directives(block(conf, "upstream registry"))
    servers = [d for d in upstream if d.startswith("server ")]
    assert servers == [f"server {u} max_fails=1 fail_timeout=10s;" for u in UPSTREAMS]
    assert any(re.fullmatch(r"keepalive \d+;", d) for d in upstream)
    registry = directives(block(conf, "location /v2/"))
    assert "proxy_next_upstream error timeout http_502 http_503 http_504;" in registry


def test_readers_may_only_read_and_writers_need_the_push_file() -> None:
    files = EdgeFiles(htpasswd="/auth/all", htpasswd_push="/auth/push")
    registry = block(render(files=files), "location /v2/")
    assert "auth_basic_user_file /auth/all;" in directives(registry)
    write = directives(block(registry, "limit_except"))
    assert write[0] == "limit_except GET HEAD OPTIONS {"
    assert "auth_basic_user_file /auth/push;" in write


def test_tls_is_1_2_or_newer_on_the_requested_address() -> None:
    conf = directives(render(listen_port=5443, listen_address="127.0.0.1"))
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in conf
    assert "listen 127.0.0.1:5443 ssl;" in conf
    assert "listen 443 ssl;" in directives(render())


def test_runtime_paths_and_user() -> None:
    runtime = EdgeRuntime(user=None, pid="/w/nginx.pid", temp_dir="/w/temp")
    conf = directives(render(runtime=runtime))
    assert not any(d.startswith("user ") for d in conf)
    assert "pid /w/nginx.pid;" in conf
    assert "client_body_temp_path /w/temp/client_body;" in conf
    assert "user nginx;" in directives(render())


@pytest.mark.parametrize("upstreams", [[], ["a:1", "a:1"]])
def test_refuses_no_or_duplicate_upstreams(upstreams: list[str]) -> None:
    with pytest.raises(ValueError, match="upstream"):
        render(upstreams=upstreams)


@pytest.mark.dataplane  # needs the nginx binary, which CI installs
def test_nginx_accepts_the_rendered_config(tmp_path: Path) -> None:
    nginx = shutil.which("nginx")
    if nginx is None:
        pytest.fail("nginx is missing: install it with `apt-get install -y nginx` (or `make system-deps`)")
    write_certificates(tmp_path, common_name="localhost", dns_names=["localhost"], ip_addresses=[], validity_days=1)
    for name in ("htpasswd", "htpasswd.push"):
        (tmp_path / name).write_text("ci:$6$salt$hash\n")
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        render(
            upstreams=["127.0.0.1:5000", "127.0.0.1:5001"],
            files=EdgeFiles(
                certificate=str(tmp_path / "server.crt"),
                certificate_key=str(tmp_path / "server.key"),
                htpasswd=str(tmp_path / "htpasswd"),
                htpasswd_push=str(tmp_path / "htpasswd.push"),
            ),
            runtime=EdgeRuntime(
                user=None,
                pid=str(tmp_path / "nginx.pid"),
                error_log=str(tmp_path / "error.log"),
                access_log=str(tmp_path / "access.log"),
                temp_dir=str(tmp_path),
            ),
        )
    )
    error_log = str(tmp_path / "error.log")
    done = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", error_log],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr
