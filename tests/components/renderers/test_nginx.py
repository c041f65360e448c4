"""Golden checks of the edge's meaningful nginx.conf lines, and `nginx -t` on the result."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from components.config.access import Grant
from components.renderers.expiry import at_or_after
from components.renderers.metrics import EdgeMetrics
from components.renderers.nginx import (
    TLS12_CIPHERS,
    EdgeFiles,
    EdgeMirror,
    EdgeRuntime,
    mirror_login_script,
    render_nginx_config,
)
from testbench.sandbox import write_certificates

UPSTREAMS = ["registry-0:5000", "registry-1:5000", "registry-2:5000"]
NAMES = ["registry.example.com", "localhost", "127.0.0.1", "::1"]
GRANTS = [
    Grant("admin", "push", "*", "users[0].access"),
    Grant("admin", "delete", "*", "users[0].access"),
    Grant("ci", "push", "team-a/*", "access[0].push[0]"),
]


def render(**overrides: object) -> str:
    args: dict[str, object] = {
        "server_names": NAMES,
        "public_port": 5443,
        "upstreams": UPSTREAMS,
        "grants": GRANTS,
    }
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
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


def registry_server(conf: str) -> str:
    """The server block that serves the certificate's names (not the default server)."""
    return block(conf, "    server {\n        listen 443 ssl;\n")


def proxied(location: str) -> list[str]:
    return directives(block(render(), location))


def test_pushes_of_any_size_keep_their_port_and_scheme() -> None:
    conf = render()
    registry = proxied("location /v2/")
    assert "client_max_body_size 0;" in directives(registry_server(conf))
    assert "proxy_set_header Host $registry_host;" in registry
    assert "proxy_set_header X-Forwarded-Proto https;" in registry
    assert "proxy_set_header Authorization $registry_actor;" in registry  # the login name, never the password
    # the published port, not the container's listen port, and never the client's
    assert directives(block(conf, "map $host $registry_host")) == [
        "map $host $registry_host {",
        "default $host:5443;",
        "}",
    ]
    assert "default $host;" in directives(block(render(public_port=443), "map $host $registry_host"))


def test_the_registry_learns_each_proven_login_name_and_no_password() -> None:
    """For distribution's webhook events (getUserName falls back to the Basic user): "<user>:" only."""
    assert directives(block(render(), "map $remote_user $registry_actor")) == [
        "map $remote_user $registry_actor {",
        'default "";',
        '"admin" "Basic YWRtaW46";',  # base64 of "admin:"
        '"ci" "Basic Y2k6";',  # base64 of "ci:"
        "}",
    ]


def test_no_client_header_steers_the_registrys_idea_of_its_address() -> None:
    for location in ("location /v2/", "location = /healthz"):
        lines = proxied(location)
        assert "proxy_set_header X-Forwarded-Host $registry_host;" in lines
        assert 'proxy_set_header Forwarded "";' in lines
        assert 'proxy_set_header X-Forwarded-Port "";' in lines
        assert "proxy_set_header X-Forwarded-For $remote_addr;" in lines  # not the client's chain
        assert not any("$http_host" in line or "$http_x_forwarded" in line for line in lines)


def test_only_the_certificates_names_are_served() -> None:
    conf = render()
    assert "server_name registry.example.com localhost 127.0.0.1 [::1];" in directives(registry_server(conf))
    default = block(conf, "    server {\n        listen 443 ssl default_server;")
    assert "return 421 '" in block(default, "location / {")
    assert "location /v2/" not in default and "proxy_pass http://registry/;" in block(default, "location = /healthz")


def test_api_version_header_is_added_always_even_on_nginx_401() -> None:
    registry = proxied("location /v2/")
    assert "add_header Docker-Distribution-Api-Version $docker_distribution_api_version always;" in registry
    mapping = block(render(), "map $upstream_http_docker_distribution_api_version")
    assert "'' 'registry/2.0';" in directives(mapping)


def test_uploads_stream_and_downloads_never_spool_to_disk() -> None:
    registry = proxied("location /v2/")
    assert "proxy_request_buffering off;" in registry
    assert "proxy_http_version 1.1;" in registry
    assert 'proxy_set_header Connection "";' in registry  # lets upstream keepalive work
    assert "proxy_max_temp_file_size 0;" in registry
    assert "proxy_buffering on;" in registry and "proxy_buffers 4 1m;" in registry


def test_long_layer_transfers_are_not_cut_off() -> None:
    registry = proxied("location /v2/")
    assert "proxy_read_timeout 900s;" in registry  # the registry may take minutes to commit a big blob
    assert "proxy_send_timeout 900s;" in registry


def test_every_registry_is_an_upstream_kept_alive_with_failover() -> None:
    conf = render()
    upstream = directives(block(conf, "upstream registry"))
    servers = [d for d in upstream if d.startswith("server ")]
    assert servers == [f"server {u} max_fails=1 fail_timeout=10s;" for u in UPSTREAMS]
    assert any(re.fullmatch(r"keepalive \d+;", d) for d in upstream)
    assert "proxy_next_upstream error timeout http_502 http_503 http_504;" in proxied("location /v2/")


def test_a_path_is_checked_then_the_password_then_registry_access() -> None:
    conf = render(files=EdgeFiles(htpasswd="/auth/all"), expiries={"robot": 2_000_000_000})
    registry = directives(block(registry_server(conf), "location /v2/"))
    start = registry.index('auth_basic "registry";')
    # before any login: what cannot be attributed to one repository; then expiry and the freeze
    assert registry[1:9] == [
        "if ($edge_route = invalid) {",
        "return 404;",
        "}",
        "if ($edge_form_body) {",
        "return 400;",
        "}",
        "error_page 404 = @invalid_path;",
        "error_page 400 = @form_body;",
    ]
    assert registry[9] == "if ($edge_login_expired) {"
    assert registry[start - 1 : start + 4] == [
        "error_page 503 = @writes_frozen;",
        'auth_basic "registry";',
        "auth_basic_user_file /auth/all;",
        "auth_request /_edge/authorize;",
        "error_page 403 = @denied;",
    ]
    check = directives(block(conf, "location = /_edge/authorize"))
    assert check[1:] == ["internal;", "if ($edge_refused) {", "return 403;", "}", "return 204;", "}"]


def test_a_refusal_is_a_registry_denied_error_naming_what_was_refused() -> None:
    denied = directives(block(render(), "location @denied"))
    assert "add_header Docker-Distribution-Api-Version registry/2.0 always;" in denied
    assert "default_type application/json;" in denied
    [body] = [d for d in denied if d.startswith("return 403 ")]
    assert body == 'return 403 \'{"errors":[{"code":"DENIED",$edge_denial}]}\';'


def test_a_path_of_no_single_repository_is_not_found_and_a_form_body_is_refused() -> None:
    invalid = directives(block(render(), "location @invalid_path"))
    [body] = [d for d in invalid if d.startswith("return 404 ")]
    error = json.loads(body.removeprefix("return 404 ").rstrip(";").strip("'"))["errors"][0]
    assert error["code"] == "NAME_UNKNOWN" and "canonical form" in error["message"]
    form = directives(block(render(), "location @form_body"))
    [body] = [d for d in form if d.startswith("return 400 ")]
    assert json.loads(body.removeprefix("return 400 ").rstrip(";").strip("'"))["errors"][0]["code"] == "UNSUPPORTED"


def test_while_the_freeze_flag_exists_writes_get_503_with_retry_after_and_reads_go_on() -> None:
    conf = render(files=EdgeFiles(freeze_flag="/run/m/frozen"))
    writes = directives(block(conf, "map $edge_action $edge_is_write"))
    assert writes[1:3] == ["pull 0;", "default 1;"]
    actions = directives(block(conf, "map $request_method $edge_action"))
    assert actions[1:5] == [
        "default other;",
        "~^(GET|HEAD|OPTIONS)$ pull;",
        "~^(POST|PUT|PATCH)$ push;",
        "~^(DELETE)$ delete;",
    ]
    registry = directives(block(registry_server(conf), "location /v2/"))
    assert registry[9:18] == [
        "set $edge_frozen $edge_is_write;",
        "if (!-f /run/m/frozen) {",
        "set $edge_frozen 0;",
        "}",
        "if ($edge_frozen) {",
        "return 503;",
        "}",
        "error_page 503 = @writes_frozen;",
        'auth_basic "registry";',
    ]
    assert "proxy_intercept_errors on;" not in registry  # a registry's own 503 reaches the client as it was
    frozen = directives(block(conf, "location @writes_frozen"))
    assert "add_header Retry-After 30 always;" in frozen
    assert "add_header Docker-Distribution-Api-Version registry/2.0 always;" in frozen
    [body] = [d for d in frozen if d.startswith("return 503 ")]
    assert json.loads(body.removeprefix("return 503 ").rstrip(";").strip("'"))["errors"][0]["code"] == "UNAVAILABLE"


def test_without_a_freeze_flag_nothing_is_frozen() -> None:
    conf = render(files=EdgeFiles(freeze_flag=None))
    assert "$edge_frozen" not in conf and "@writes_frozen" not in conf


def test_tls_is_1_2_or_newer_with_forward_secret_aead_only() -> None:
    conf = directives(render(listen_port=5443, listen_address="127.0.0.1"))
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in conf
    assert f"ssl_ciphers {TLS12_CIPHERS};" in conf and conf.count(f"ssl_ciphers {TLS12_CIPHERS};") == 2
    suites = TLS12_CIPHERS.split(":")
    assert all(s.startswith("ECDHE-") for s in suites)  # forward secrecy; no static RSA
    assert all(s.endswith(("GCM-SHA256", "GCM-SHA384", "CHACHA20-POLY1305")) for s in suites)  # AEAD, no CBC/CCM
    assert "listen 127.0.0.1:5443 ssl;" in conf and "listen 127.0.0.1:5443 ssl default_server;" in conf
    assert "listen 443 ssl;" in directives(render())


def test_v2_redirect_is_relative_so_it_keeps_the_published_port() -> None:
    server = directives(registry_server(render()))
    assert "absolute_redirect off;" in server
    assert directives(block(render(), "location = /v2 {")) == ["location = /v2 {", "return 301 /v2/;", "}"]


def test_health_counts_a_registry_that_answers_even_when_its_storage_does_not() -> None:
    conf = render(health_port=8081)
    loopback = block(conf, "    server {\n        listen 127.0.0.1:8081;")
    for server in (loopback, registry_server(conf)):
        health = directives(block(server, "location = /healthz"))
        assert "proxy_pass http://registry/;" in health
        assert "proxy_intercept_errors on;" in health
        assert "error_page 503 = @storage_unavailable;" in health
        assert "auth_basic" not in " ".join(health)
        alive = directives(block(server, "location @storage_unavailable"))
        assert "return 200 'registry up, storage unavailable\\n';" in alive
    assert "listen 127.0.0.1:8081" not in render(health_port=None)


def test_real_client_addresses_come_only_from_trusted_proxies() -> None:
    conf = directives(render(trusted_proxies=["10.42.0.0/16"]))
    assert "set_real_ip_from 10.42.0.0/16;" in conf
    assert "real_ip_header X-Forwarded-For;" in conf and "real_ip_recursive on;" in conf
    assert not any(d.startswith(("set_real_ip_from", "real_ip_header")) for d in directives(render()))


def test_runtime_paths_and_user() -> None:
    runtime = EdgeRuntime(user=None, pid="/w/nginx.pid", temp_dir="/w/temp")
    conf = directives(render(runtime=runtime))
    assert not any(d.startswith("user ") for d in conf)
    assert "pid /w/nginx.pid;" in conf
    assert "client_body_temp_path /w/temp/client_body;" in conf
    assert "user nginx;" in directives(render())


@pytest.mark.parametrize(
    ("changes", "error"),
    [({"upstreams": []}, "upstream"), ({"upstreams": ["a:1", "a:1"]}, "upstream"), ({"server_names": []}, "names")],
)
def test_refuses_what_cannot_work(changes: dict[str, object], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        render(**changes)


@pytest.mark.dataplane  # needs the nginx binary, which CI installs
def test_nginx_accepts_the_rendered_config(tmp_path: Path) -> None:
    nginx = shutil.which("nginx")
    if nginx is None:
        pytest.fail("nginx is missing: install it with `apt-get install -y nginx` (or `make system-deps`)")
    write_certificates(tmp_path, common_name="localhost", dns_names=["localhost"], ip_addresses=[], validity_days=1)
    (tmp_path / "htpasswd").write_text("ci:$6$salt$hash\n")
    (tmp_path / "mirror_login.js").write_text(mirror_login_script())  # njs compiles it at -t
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        render(
            upstreams=["127.0.0.1:5000", "127.0.0.1:5001"],
            mirrors=[replace(HUB, servers=["127.0.0.1:5002", "127.0.0.1:5003"]), replace(OPEN, servers=["[::1]:5004"])],
            metrics=EdgeMetrics(9443, ["127.0.0.1:5101", "127.0.0.1:5102"], ["admin"]),
            files=EdgeFiles(
                certificate=str(tmp_path / "server.crt"),
                certificate_key=str(tmp_path / "server.key"),
                htpasswd=str(tmp_path / "htpasswd"),
                mirror_script=str(tmp_path / "mirror_login.js"),
            ),
            runtime=EdgeRuntime(
                resolver="127.0.0.11",
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


# ---------------------------------------------------------------- mirrors

HUB = EdgeMirror(
    name="docker-hub",
    upstream="docker.io",
    servers=["mirror-0-0:5000", "mirror-0-1:5000"],
    remote_url="https://registry-1.docker.io",
    listen_port=8444,
    login_file="/etc/nginx/mirrors/0.login",
)
OPEN = EdgeMirror(
    name="quay", upstream="quay.io", servers=["mirror-1-0:5000"], remote_url="https://quay.io", anonymous=True
)


def mirrored() -> str:
    return render(mirrors=[HUB, OPEN])


def test_each_mirror_has_one_serving_instance_and_the_others_stand_by() -> None:
    """One writer of distribution's proxy expiry state per mirror (registry/proxy/scheduler)."""
    pool = directives(block(mirrored(), "    upstream mirror_0 {"))
    assert pool == [
        "upstream mirror_0 {",
        "server mirror-0-0:5000 max_fails=1 fail_timeout=10s;",
        "server mirror-0-1:5000 max_fails=1 fail_timeout=10s backup;",
        "keepalive 16;",
        "}",
    ]


def test_a_mirror_prefix_is_its_own_v2_and_pull_only_for_every_user() -> None:
    location = directives(block(registry_server(mirrored()), "        location /v2/docker-hub/ {"))
    assert "proxy_pass http://mirror_0/v2/;" in location  # /v2/docker-hub/x -> /v2/x on the mirror
    assert 'auth_basic "registry";' in location
    assert "auth_request /_edge/read-only;" in location
    assert "error_page 403 = @mirror_read_only;" in location
    assert 'proxy_set_header Authorization "";' in location
    read_only = directives(block(registry_server(mirrored()), "        location = /_edge/read-only {"))
    assert read_only == [
        "location = /_edge/read-only {",
        "internal;",
        "if ($edge_is_write) {",
        "return 403;",
        "}",
        "return 204;",
        "}",
    ]
    refused = directives(block(registry_server(mirrored()), "        location @mirror_read_only {"))
    assert 'add_header Allow "GET, HEAD" always;' in refused
    [body] = [d for d in refused if d.startswith("return 405 ")]
    assert json.loads(body.removeprefix("return 405 '").removesuffix("';"))["errors"][0]["code"] == "UNSUPPORTED"


def test_an_anonymous_mirror_asks_no_password_but_still_takes_no_write() -> None:
    location = directives(block(registry_server(mirrored()), "        location /v2/quay/ {"))
    assert not [d for d in location if d.startswith("auth_basic")]
    assert "auth_request /_edge/read-only;" in location


def test_a_failing_mirror_answers_what_went_wrong_and_404_passes_through() -> None:
    """distribution answers 500 when a tag's cached manifest is gone and the upstream fails
    (registry/proxy/proxytagservice.go, proxymanifeststore.go); mirror_login.js says why."""
    location = directives(block(registry_server(mirrored()), "        location /v2/docker-hub/ {"))
    assert "proxy_intercept_errors on;" in location
    assert "error_page 500 502 504 = @mirror_0_failed;" in location
    assert not [d for d in location if d.startswith("error_page 404")]  # blobs, tags: as the mirror says
    failed = directives(block(registry_server(mirrored()), "        location @mirror_0_failed {"))
    [body] = [d for d in failed if d.startswith("set $mirror_unanswered ")]
    error = json.loads(body.removeprefix("set $mirror_unanswered '").removesuffix("';"))["errors"][0]
    assert error["code"] == "UNAVAILABLE"
    assert error["message"] == "mirror docker-hub has no unexpired copy of this and docker.io did not answer"
    assert "set $mirror_answer 502;" in failed


def test_a_manifest_the_mirror_has_not_got_is_explained_by_asking_the_upstream() -> None:
    """A tag whose upstream refused the login is 404 from distribution (proxytagservice.go Get):
    for manifests only, the edge sends 404 to mirror_login.js too, the path stripped as above."""
    server = registry_server(mirrored())
    manifests = directives(block(server, r"        location ~ ^/v2/docker\-hub/.+/manifests/[^/]+$ {"))
    assert "error_page 404 = @mirror_0_unknown;" in manifests
    assert "error_page 500 502 504 = @mirror_0_failed;" in manifests
    assert r"rewrite ^/v2/docker\-hub/(.*)$ /v2/$1 break;" in manifests
    assert "proxy_pass http://mirror_0;" in manifests
    assert "auth_basic_user_file /etc/nginx/auth/htpasswd;" in manifests
    assert "auth_request /_edge/read-only;" in manifests
    assert 'proxy_set_header Authorization "";' in manifests  # the client's login never reaches the mirror
    unknown = directives(block(server, "        location @mirror_0_unknown {"))
    assert unknown == [
        "location @mirror_0_unknown {",
        'set $mirror_name "docker-hub";',
        'set $mirror_upstream "https://registry-1.docker.io";',
        'set $mirror_login "/etc/nginx/mirrors/0.login";',
        "set $mirror_answer 404;",
        "set $mirror_basic 1;",
        unknown[6],  # $mirror_unanswered, pinned above
        "js_fetch_trusted_certificate /etc/ssl/certs/ca-certificates.crt;",
        "js_content mirror_login.explain;",
        "}",
    ]
    anonymous = directives(block(server, "        location @mirror_1_unknown {"))
    assert 'set $mirror_login "";' in anonymous


def test_the_root_listener_explains_its_manifests_without_a_rewrite() -> None:
    root = block(mirrored(), "    server {\n        listen 8444 ssl;\n")
    manifests = directives(block(root, "        location ~ ^/v2/.+/manifests/[^/]+$ {"))
    assert "error_page 404 = @mirror_0_unknown;" in manifests
    assert not [d for d in manifests if d.startswith("rewrite")]
    assert "proxy_pass http://mirror_0;" in manifests
    assert "js_content mirror_login.explain;" in directives(block(root, "        location @mirror_0_unknown {"))


def test_njs_is_loaded_only_with_mirrors() -> None:
    conf = render(mirrors=[HUB], runtime=EdgeRuntime(resolver="127.0.0.11"))
    assert "load_module /usr/lib/nginx/modules/ngx_http_js_module.so;" in directives(conf.split("events {")[0])
    http = directives(block(conf, "http {"))
    assert "js_import mirror_login from /etc/nginx/mirror_login.js;" in http
    assert "js_fetch_timeout 10s;" in http
    assert "resolver 127.0.0.11 valid=30s;" in http
    plain = render()
    assert "load_module" not in plain and "js_import" not in plain and "resolver" not in plain


def test_a_distribution_2_8_mirror_is_marked_as_sending_no_basic_login() -> None:
    conf = render(mirrors=[replace(HUB, basic_login=False)])
    assert "set $mirror_basic 0;" in directives(block(registry_server(conf), "        location @mirror_0_unknown {"))


def test_a_prefixed_mirrors_next_page_link_keeps_the_prefix() -> None:
    """The mirror writes `Link: </v2/team/app/tags/list?...>` for what the client asked at
    `/v2/docker-hub/team/app/tags/list`: the edge puts the prefix back (nginx map, PCRE)."""
    location = directives(block(registry_server(mirrored()), "        location /v2/docker-hub/ {"))
    assert "proxy_hide_header Link;" in location
    assert "add_header Link $mirror_0_link always;" in location
    mapping = directives(block(mirrored(), "    map $upstream_http_link $mirror_0_link {"))
    assert mapping[1] == "default $upstream_http_link;"
    pattern, replacement = re.fullmatch(r'"~(.*)" "(.*)";', mapping[2]).groups()  # type: ignore[union-attr]

    def rewrite(link: str) -> str:
        found = re.match(pattern.replace("(?<", "(?P<"), link)
        return re.sub(r"\$(\w+)", lambda m: found.group(m.group(1)) or "", replacement) if found else link

    assert rewrite('</v2/team/app/tags/list?last=t02&n=2>; rel="next"') == (
        '</v2/docker-hub/team/app/tags/list?last=t02&n=2>; rel="next"'
    )
    assert rewrite('<https://r.example:5443/v2/_catalog?last=a&n=1>; rel="next"') == (
        '<https://r.example:5443/v2/docker-hub/_catalog?last=a&n=1>; rel="next"'
    )
    root = block(mirrored(), "    server {\n        listen 8444 ssl;")
    assert "Link" not in block(root, "        location /v2/ {")  # at the root of its port, paths are the mirror's


def test_a_mirror_with_a_port_is_served_at_the_root_of_it_for_the_certificates_names_only() -> None:
    conf = mirrored()
    default = directives(block(conf, "    server {\n        listen 8444 ssl default_server;"))
    [refused] = [d for d in default if d.startswith("return 421 ")]
    assert json.loads(refused.removeprefix("return 421 '").removesuffix("';"))["errors"][0]["code"] == "DENIED"
    root = block(conf, "    server {\n        listen 8444 ssl;")
    assert "server_name registry.example.com localhost 127.0.0.1 [::1];" in directives(root)
    location = directives(block(root, "        location /v2/ {"))
    assert "proxy_pass http://mirror_0;" in location and "auth_request /_edge/read-only;" in location
    assert "proxy_pass http://mirror_0/;" in directives(block(root, "        location = /healthz {"))
    assert "listen 8445" not in conf  # the quay mirror has no port


def test_mirrors_refuse_what_cannot_work() -> None:
    with pytest.raises(ValueError, match="distinct"):
        render(mirrors=[HUB, HUB])
    with pytest.raises(ValueError, match="at least one instance"):
        render(mirrors=[EdgeMirror(name="x1", upstream="quay.io", servers=[], remote_url="https://quay.io")])


def test_a_robot_login_is_refused_from_its_expiry_on_wherever_a_login_is_asked() -> None:
    """nginx's $msec against a regex of every later second (components/renderers/expiry.py), first
    in each location with auth_basic (registry and mirrors): 401 with the Basic challenge."""
    conf = render(expiries={"ci.bot": 1_801_353_600}, mirrors=[HUB, OPEN])
    mapping = directives(block(conf, '    map "$remote_user:$msec" $edge_login_expired {'))
    assert mapping[1] == "default 0;"
    assert mapping[2] == f'"~^ci\\.bot:{at_or_after(1_801_353_600)}\\." 1;'
    refusal = [
        "if ($edge_login_expired) {",
        "add_header WWW-Authenticate 'Basic realm=\"registry\"' always;",
        "add_header Docker-Distribution-Api-Version registry/2.0 always;",
        "return 401;",
        "}",
    ]
    for opening, first in (("        location /v2/ {", 9), ("        location /v2/docker-hub/ {", 1)):
        assert directives(block(registry_server(conf), opening))[first : first + 5] == refusal
    root = block(conf, "    server {\n        listen 8444 ssl;")
    assert directives(block(root, "        location /v2/ {"))[1:6] == refusal
    assert "$edge_login_expired" not in block(registry_server(conf), "        location /v2/quay/ {")  # anonymous
    assert "$edge_login_expired" not in render()  # without robots nothing changes


def test_the_metrics_listener_passes_on_each_registrys_metrics_path_alone_to_admins() -> None:
    conf = render(metrics=EdgeMetrics(9443, ["registry-0:5001", "registry-1:5001"], ["ops", "admin"]))
    server = block(conf, "    # metrics for admins")
    assert directives(block(conf, "map $remote_user $edge_metrics_reader")) == [
        "map $remote_user $edge_metrics_reader {",
        "default 0;",
        '"admin" 1;',
        '"ops" 1;',
        "}",
    ]
    lines = directives(server)
    assert "listen 9443 ssl;" in lines and "auth_basic_user_file /etc/nginx/auth/htpasswd;" in lines
    assert "auth_request /_edge/metrics-reader;" in lines
    assert directives(block(server, "location = /metrics/registry/1")) == [
        "location = /metrics/registry/1 {",
        "proxy_pass http://registry-1:5001/metrics;",
        'proxy_set_header Authorization "";',
        "}",
    ]
    assert "stub_status;" in directives(block(server, "location = /metrics/edge"))
    # exact matches only: /debug/vars and anything else under the listener is 404
    assert [line for line in lines if line.startswith("location")] == [
        "location = /_edge/metrics-reader {",
        "location = /metrics/edge {",
        "location = /metrics/registry/0 {",
        "location = /metrics/registry/1 {",
        "location / {",
    ]
    assert directives(block(server, "location / {")) == ["location / {", "return 404;", "}"]
    assert "edge_metrics_reader" not in render()
