"""nginx.conf for the TLS edge in front of N registry instances.

Every user proves who they are (auth_basic); then registry:access decides what they may do to
which repository (components/renderers/access.py). The directives under `_PROXY` are the ones FIELD-NOTES found
necessary behind a proxy (413s, lost ports in upload Locations, http:// Locations, ...).

Throughput (bench/dataplane.py): uploads stream to the registry unbuffered, read from the
client in 1 MiB pieces. Downloads ARE buffered, in memory only (`proxy_max_temp_file_size 0`:
a blob is never spooled to disk, the registry is just read ahead up to 4 MiB): unbuffered,
nginx writes each small upstream read as its own TLS record, which doubled its CPU per byte
and cost the client more to decrypt; pulls went from 0.74x to ~0.85x of a direct pull.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from components.config.access import Grant
from components.renderers.access import DENIED_BODY, FORM_BODY_BODY, INVALID_PATH_BODY, access_maps
from components.renderers.audit import AUDIT_FORMAT, audit_log_format, audit_maps
from components.renderers.expiry import at_or_after
from components.renderers.metrics import EdgeMetrics, metrics_server


@dataclass(frozen=True)
class EdgeFiles:
    """Where the edge finds its certificate and password files."""

    certificate: str = "/etc/nginx/tls/server.crt"
    certificate_key: str = "/etc/nginx/tls/server.key"
    htpasswd: str = "/etc/nginx/auth/htpasswd"  # every user; what each may do is in nginx.conf
    # while this file exists, writes are refused (tools.maintenance gc); None: no freeze check
    freeze_flag: str | None = "/var/run/registry-maintenance/writes-frozen"
    mirror_script: str = "/etc/nginx/mirror_login.js"  # mirror_login_script(), with mirrors only
    mirror_dir: str = "/etc/nginx/mirrors"  # each mirror's upstream login and private CA

    def mirror_login(self, index: int) -> str:
        """Mirror `index`'s upstream Authorization value (mirrors.upstream_authorization)."""
        return f"{self.mirror_dir}/{index}.login"

    def mirror_ca(self, index: int) -> str:
        """Mirror `index`'s private upstream CA (its caCertificate)."""
        return f"{self.mirror_dir}/{index}-ca.crt"


@dataclass(frozen=True)
class EdgeRuntime:
    """Process-level paths: the container image's defaults, or a sandbox's work dir."""

    user: str | None = "nginx"  # None: workers run as nobody (nginx started as root)
    pid: str = "/var/run/nginx.pid"
    error_log: str = "/dev/stderr"
    access_log: str = "/dev/stdout"
    temp_dir: str | None = None  # must be writable by the worker user
    # njs, for the mirrors' answers: nginx:alpine ships it (nginx-module-njs), Debian as libnginx-mod-http-js
    js_module: str = "/usr/lib/nginx/modules/ngx_http_js_module.so"
    resolver: str | None = None  # DNS server for the mirrors' upstream names (Docker's 127.0.0.11)


SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"  # nginx:alpine (ca-certificates) and Debian alike
MIRROR_LOGIN_TIMEOUT_SECONDS = 10  # per request to the upstream when the edge asks why a mirror failed


def mirror_login_script() -> str:
    """The njs module behind a mirror's failed pulls: it asks the upstream whether it refused the
    mirror's login (mirror_login.js says how), served at EdgeFiles.mirror_script."""
    return (Path(__file__).parent / "mirror_login.js").read_text()


@dataclass(frozen=True)
class EdgeMirror:
    """A pull-through cache (distribution in proxy mode) behind the edge: pull-only, under
    `/v2/<name>/` on the edge's port and, with `listen_port`, at the root of a port of its own."""

    name: str
    upstream: str  # what it caches, named in its error answers
    servers: Sequence[str]  # host:port of its instances; the first serves, the others stand by
    remote_url: str  # https://host[:port] the instances pull from, which the edge asks when they fail
    listen_port: int | None = None  # the edge's port for its root listener
    anonymous: bool = False  # no login (Docker's registry-mirrors never sends one)
    login_file: str | None = None  # holds the Authorization value of the mirror's upstream login
    trusted_certificate: str = SYSTEM_CA_BUNDLE  # what the edge trusts the upstream's certificate with
    basic_login: bool = True  # the instances send a Basic login (distribution 3; 2.8 only to Bearer realms)


# Forwarding headers are the edge's own: the client's Host, X-Forwarded-*, and Forwarded never
# reach the registry, which builds upload `Location`s from them (distribution
# registry/api/v2/urls.go, NewURLBuilderFromRequest). Host is one of the certificate's names
# (anything else got 421 from the default server) plus the port clients use.
_PROXY = """\
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $registry_host;
            proxy_set_header X-Forwarded-Host $registry_host;
            proxy_set_header X-Forwarded-Proto https;
            proxy_set_header X-Forwarded-Port "";
            proxy_set_header Forwarded "";
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $remote_addr;
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


# /healthz: the edge runs and a registry process answers. A registry answering 503 (its storage
# health check fails, e.g. ~30 s into an S3 outage) still counts as up: every instance shares the
# same storage, so replacing them (what ECS does to tasks that fail their load balancer health
# check) cannot help and would restart the whole fleet during a blip. The body says which.
# The registry's own requests carry the login name, never the password: "Basic base64(<user>:)", so
# distribution names the user in its webhook events (registry/handlers/context.go getUserName falls
# back to the request's Basic user; with no auth configured it checks nothing). Mirrors keep "".
_PROXY_AS_ACTOR = _PROXY.replace(
    'proxy_set_header Authorization "";', "proxy_set_header Authorization $registry_actor;"
)


def basic_authorization(username: str, password: str) -> str:
    """An HTTP Basic Authorization value (RFC 7617)."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _actor_map(users: Sequence[str]) -> str:
    """$registry_actor: the Authorization header the registry gets for each proven login name."""
    lines = "".join(f'        "{user}" "{basic_authorization(user, "")}";\n' for user in sorted(users))
    return f"""    map $remote_user $registry_actor {{
        default "";
{lines}    }}
"""


def _health_locations(upstream: str) -> str:
    return f"""\
        location = /healthz {{
            access_log off;
            proxy_pass http://{upstream}/;
            proxy_intercept_errors on;
            error_page 503 = @storage_unavailable;
{_PROXY}
        }}

        location @storage_unavailable {{
            access_log off;
            default_type text/plain;
            return 200 'registry up, storage unavailable\\n';
        }}
"""


_HEALTH = _health_locations("registry")

# TLS 1.2 only with ECDHE key exchange and AEAD ciphers (no CBC, no CCM/CCM8, no static RSA,
# whatever key type a provided certificate has); TLS 1.3's suites are all AEAD with ECDHE.
TLS12_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
)
# distribution's own code for 503 (registry/api/errcode/register.go, ErrorCodeUnavailable)
_FROZEN_BODY = (
    '{"errors":[{"code":"UNAVAILABLE",'
    '"message":"writes are paused for maintenance (garbage collection, backup or restore)",'
    '"detail":"reads keep working; retry the push after the Retry-After seconds"}]}'
)
FREEZE_RETRY_AFTER_SECONDS = 30
# distribution's own answer to a push into a proxy (registry/handlers: ErrUnsupported -> UNSUPPORTED, 405)
_MIRROR_READ_ONLY_BODY = (
    '{"errors":[{"code":"UNSUPPORTED","message":"this is a pull-through mirror: it cannot be pushed to",'
    '"detail":"push to the registry itself, outside the mirror prefixes"}]}'
)
_MISDIRECTED_BODY = (
    '{"errors":[{"code":"DENIED","message":"unknown host name: use the name the registry certificate is for"}]}'
)


def _misdirected_server(listen: str, tls: str, health: str = "") -> str:
    """The default server of a listener: a Host the certificate does not cover gets 421."""
    health = f"{health}\n" if health else ""
    return f"""    server {{
        listen {listen} ssl default_server;
{tls}
{health}        location / {{
            default_type application/json;
            return 421 '{_MISDIRECTED_BODY}';
        }}
    }}
"""


def _mirror_failed_body(mirror: EdgeMirror) -> str:
    """What a client reads when the mirror answers 500 (an uncached or expired copy whose upstream
    failed: registry/proxy/proxytagservice.go falls back to the local tag, whose manifest is gone)."""
    return (
        f'{{"errors":[{{"code":"UNAVAILABLE","message":"mirror {mirror.name} has no unexpired copy of this '
        f'and {mirror.upstream} did not answer","detail":"retry when {mirror.upstream} is reachable; the mirror '
        'instance log says more"}]}'
    )


def _mirror_locations(index: int, mirror: EdgeMirror, prefix: str, htpasswd: str, expired_check: str = "") -> str:
    """Pull-only access to mirror `index`: `prefix` (`/v2/<name>/` or `/v2/`) becomes its `/v2/`.
    A manifest it has not got (404) or could not fetch (500/502/504) is explained by the upstream
    (mirror_login.js): refused credentials, no answer, or no such image."""
    auth = (
        ""
        if mirror.anonymous
        else f"""{expired_check}            auth_basic "registry";
            auth_basic_user_file {htpasswd};
"""
    )
    # under a path prefix the next page's Link (tags/list, _catalog, referrers) needs the prefix too
    link = (
        f"""            proxy_hide_header Link;
            add_header Link $mirror_{index}_link always;
"""
        if prefix != "/v2/"
        else ""
    )
    common = f"""{auth}            auth_request /_edge/read-only;  # a mirror takes no write, from anyone
            error_page 403 = @mirror_read_only;
            proxy_intercept_errors on;  # only the codes below; other 404s pass as they are
            error_page 500 502 504 = @mirror_{index}_failed;
            add_header Docker-Distribution-Api-Version $docker_distribution_api_version always;
{link}"""
    target = f"http://mirror_{index}/v2/" if prefix != "/v2/" else f"http://mirror_{index}"
    strip = f"            rewrite ^{re.escape(prefix)}(.*)$ /v2/$1 break;\n" if prefix != "/v2/" else ""
    return f"""        location {prefix} {{
{common}            proxy_pass {target};
{_PROXY}
        }}

        location ~ ^{re.escape(prefix)}.+/manifests/[^/]+$ {{
{common}            error_page 404 = @mirror_{index}_unknown;  # the tag or digest it has not got: why?
{strip}            proxy_pass http://mirror_{index};
{_PROXY}
        }}

{_mirror_explained(index, mirror, "unknown", 404)}{_mirror_explained(index, mirror, "failed", 502)}"""


def _mirror_explained(index: int, mirror: EdgeMirror, case: str, status: int) -> str:
    """The named location where mirror_login.js answers mirror `index`'s `status` (404, or 502 for
    its 500/502/504) after asking the upstream."""
    return f"""        location @mirror_{index}_{case} {{
            set $mirror_name "{mirror.name}";
            set $mirror_upstream "{mirror.remote_url}";
            set $mirror_login "{mirror.login_file or ""}";
            set $mirror_answer {status};
            set $mirror_basic {int(mirror.basic_login)};
            set $mirror_unanswered '{_mirror_failed_body(mirror)}';
            js_fetch_trusted_certificate {mirror.trusted_certificate};
            js_content mirror_login.explain;
        }}

"""


_READ_ONLY_LOCATIONS = f"""        location = /_edge/read-only {{
            internal;
            if ($edge_is_write) {{
                return 403;
            }}
            return 204;
        }}

        location @mirror_read_only {{
            add_header Docker-Distribution-Api-Version registry/2.0 always;
            add_header Allow "GET, HEAD" always;
            default_type application/json;
            return 405 '{_MIRROR_READ_ONLY_BODY}';
        }}

"""


# first in every location that asks for a login: a robot whose expiresAt has come is refused like a
# wrong password, before its password is even checked (rewrite phase: headers added in an
# auth_request subrequest never reach the client, so the challenge is given here)
_EXPIRED_LOGIN_CHECK = """            if ($edge_login_expired) {
                add_header WWW-Authenticate 'Basic realm="registry"' always;
                add_header Docker-Distribution-Api-Version registry/2.0 always;
                return 401;
            }
"""


def _expiry_map(expiries: Mapping[str, int]) -> str:
    """$edge_login_expired is 1 for a user at or after its expiry (components/renderers/expiry.py)."""
    lines = "".join(
        f'        "~^{name.replace(".", chr(92) + ".")}:{at_or_after(seconds)}\\." 1;\n'
        for name, seconds in sorted(expiries.items())
    )
    return f"""
    # robot accounts: their login stops working at registry:users[].expiresAt ($msec: epoch seconds)
    map "$remote_user:$msec" $edge_login_expired {{
        default 0;
{lines}    }}
"""


def _mirror_link_map(index: int, name: str) -> str:
    """The mirror's `Link` with `/v2/` turned into `/v2/<name>/`: distribution builds the next
    page's URL from the path it was asked for (registry/handlers/catalog.go createLinkEntry of
    r.URL, for tags.go too): the mirror's own `/v2/...`, which from the client goes to the registry."""
    return f"""    map $upstream_http_link $mirror_{index}_link {{
        default $upstream_http_link;
        "~^<(?<mirror_link_origin>https?://[^/>]+)?/v2/(?<mirror_link_rest>.*)$" "<$mirror_link_origin/v2/{name}/$mirror_link_rest";
    }}
"""


def _mirror_blocks(
    mirrors: Sequence[EdgeMirror],
    *,
    listen_address: str | None,
    htpasswd: str,
    names: str,
    tls: str,
    expired_check: str = "",
) -> tuple[str, str, str]:
    """(upstream blocks, locations in the registry's server, root-listener servers) for `mirrors`."""
    if not mirrors:
        return "", "", ""
    if len({m.name for m in mirrors}) != len(mirrors):
        raise ValueError(f"mirror names must be distinct, got {[m.name for m in mirrors]}")
    upstreams, paths, servers = [], [_READ_ONLY_LOCATIONS], []
    for i, mirror in enumerate(mirrors):
        if not mirror.servers:
            raise ValueError(f"mirror {mirror.name} needs at least one instance")
        # one instance serves, the rest stand by: distribution keeps a proxy's expiry timers in one
        # file per storage root that each instance overwrites with its own (registry/proxy/scheduler)
        members = "".join(
            f"        server {u} max_fails=1 fail_timeout=10s{' backup' if k else ''};\n"
            for k, u in enumerate(mirror.servers)
        )
        upstreams.append(f"\n    upstream mirror_{i} {{\n{members}        keepalive 16;\n    }}\n")
        upstreams.append(_mirror_link_map(i, mirror.name))
        paths.append(_mirror_locations(i, mirror, f"/v2/{mirror.name}/", htpasswd, expired_check))
        if mirror.listen_port is None:
            continue
        listen = f"{listen_address}:{mirror.listen_port}" if listen_address else str(mirror.listen_port)
        servers.append(
            f"""
    # {mirror.name} at the root of its own port: Docker's registry-mirrors (Docker Hub only) needs that
{_misdirected_server(listen, tls)}
    server {{
        listen {listen} ssl;
        server_name {names};
{tls}

        absolute_redirect off;

        location = /v2 {{
            return 301 /v2/;
        }}

{_mirror_locations(i, mirror, "/v2/", htpasswd, expired_check)}{_READ_ONLY_LOCATIONS}{_health_locations(f"mirror_{i}")}
        location / {{
            return 404;
        }}
    }}
"""
        )
    return "".join(upstreams), "".join(paths), "".join(servers)


def render_nginx_config(
    *,
    server_names: Sequence[str],
    public_port: int,
    upstreams: Sequence[str],
    grants: Sequence[Grant],
    listen_port: int = 443,
    listen_address: str | None = None,
    health_port: int | None = 8081,
    files: EdgeFiles = EdgeFiles(),
    runtime: EdgeRuntime = EdgeRuntime(),
    worker_processes: str = "auto",
    trusted_proxies: Sequence[str] = (),
    mirrors: Sequence[EdgeMirror] = (),
    expiries: Mapping[str, int] | None = None,
    metrics: EdgeMetrics | None = None,
) -> str:
    """The nginx.conf text.

    `server_names` are the names the certificate covers (IPv6 addresses bare); a request for any
    other Host is refused. `public_port` is the port clients connect to (what upload Locations
    carry; the container's own listen port may differ). `upstreams` are host:port of every
    registry; `listen_address` None listens on every interface (a container), else only there.
    `trusted_proxies` are CIDRs of a load balancer whose X-Forwarded-For names the real client.
    `grants` say who may pull, push and delete which repositories (SelfHosted.edge_grants).
    `mirrors` are pull-through caches served beside the registry (EdgeMirror). `expiries` maps a
    user to the epoch second its login stops working (registry:users[].expiresAt). `metrics`: the
    admins' listener for the registries' Prometheus metrics and nginx's own figures (metrics.py).
    """
    _check_edge(server_names, upstreams)
    listen = f"{listen_address}:{listen_port}" if listen_address else str(listen_port)
    names = " ".join(f"[{n}]" if ":" in n else n for n in server_names)
    tls = _tls_directives(files)
    expired_check = _EXPIRED_LOGIN_CHECK if expiries else ""
    mirror_upstreams, mirror_paths, mirror_servers = _mirror_blocks(
        mirrors,
        listen_address=listen_address,
        htpasswd=files.htpasswd,
        names=names,
        tls=tls,
        expired_check=expired_check,
    )
    port_suffix = "" if public_port == 443 else f":{public_port}"
    return (
        _main_context(runtime, worker_processes, njs=bool(mirrors))
        + f"""

http {{
{_http_settings(runtime, trusted_proxies)}{_mirror_login_settings(runtime, files) if mirrors else ""}
    upstream registry {{
{_upstream_servers(upstreams)}
        keepalive 64;
    }}
{mirror_upstreams}
{_maps(port_suffix)}{access_maps(grants)}{_actor_map(sorted({g.principal for g in grants}))}{_expiry_map(expiries) if expiries else ""}
    # any Host the certificate does not cover (and requests without one): refused
{_misdirected_server(listen, tls, _HEALTH)}
{_registry_server(listen, names, tls, files, mirror_paths, expired_check)}{mirror_servers}{_metrics(metrics, listen_address, names, tls, files)}{_health_server(health_port)}}}
"""
    )


def _check_edge(server_names: Sequence[str], upstreams: Sequence[str]) -> None:
    if not upstreams:
        raise ValueError("the edge needs at least one upstream registry")
    if len(set(upstreams)) != len(upstreams):
        raise ValueError(f"upstreams must be distinct, got {list(upstreams)}")
    if not server_names:
        raise ValueError("the edge needs the certificate's names to know which hosts it serves")


def _main_context(runtime: EdgeRuntime, worker_processes: str, njs: bool) -> str:
    head = [f"user {runtime.user};"] if runtime.user else []
    head += [f"load_module {runtime.js_module};"] if njs else []
    head += [
        f"worker_processes {worker_processes};",
        f"pid {runtime.pid};",
        f"error_log {runtime.error_log} warn;",
        "",
        "events {",
        "    worker_connections 4096;",
        "}",
    ]
    return "\n".join(head)


def _http_settings(runtime: EdgeRuntime, trusted_proxies: Sequence[str]) -> str:
    """Logging, temp paths writable by the workers, and the real client address from trusted proxies."""
    temp = ""
    if runtime.temp_dir:
        temp = "".join(
            f"    {kind}_temp_path {runtime.temp_dir}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
    real_ip = ""
    if trusted_proxies:
        real_ip = (
            "".join(f"    set_real_ip_from {cidr};\n" for cidr in trusted_proxies)
            + "    real_ip_header X-Forwarded-For;\n    real_ip_recursive on;\n"
        )
    return f"""{audit_log_format()}{audit_maps()}    access_log {runtime.access_log} {AUDIT_FORMAT};
    server_tokens off;
    tcp_nodelay on;
{temp}{real_ip}"""


def _mirror_login_settings(runtime: EdgeRuntime, files: EdgeFiles) -> str:
    """What mirror_login.js needs: the module, a DNS server for upstream names, a time limit."""
    resolver = f"    resolver {runtime.resolver} valid=30s;\n" if runtime.resolver else ""
    return f"""    js_import mirror_login from {files.mirror_script};
    js_fetch_timeout {MIRROR_LOGIN_TIMEOUT_SECONDS}s;
{resolver}"""


def _upstream_servers(upstreams: Sequence[str]) -> str:
    return "\n".join(f"        server {u} max_fails=1 fail_timeout=10s;" for u in upstreams)


def _tls_directives(files: EdgeFiles) -> str:
    return f"""        ssl_certificate {files.certificate};
        ssl_certificate_key {files.certificate_key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers {TLS12_CIPHERS};
        ssl_prefer_server_ciphers on;
        ssl_session_cache shared:TLS:10m;
        ssl_session_timeout 1h;
        ssl_session_tickets off;"""


def _maps(port_suffix: str) -> str:
    """The API version header, what writes, and the registry's idea of its own address."""
    return f"""    # the registry sends this header itself; nginx's own 401s need it too
    map $upstream_http_docker_distribution_api_version $docker_distribution_api_version {{
        '' 'registry/2.0';
    }}

    # writes (anything but pull: components/renderers/access.py): what a gc freeze holds back and a
    # mirror never takes
    map $edge_action $edge_is_write {{
        pull 0;
        default 1;
    }}

    # what the registry sees as its own address: a certificate name and the published port
    map $host $registry_host {{
        default $host{port_suffix};
    }}
"""


def _freeze_check(files: EdgeFiles) -> tuple[str, str]:
    """(the check in /v2/, the location answering frozen writes); both empty without a flag."""
    if not files.freeze_flag:
        return "", ""
    # rewrite-phase `if` with only `set`/`return` in it: the safe use of nginx's `if`
    check = f"""            # tools.maintenance gc: while {files.freeze_flag} exists, writes get 503, reads go on
            set $edge_frozen $edge_is_write;
            if (!-f {files.freeze_flag}) {{
                set $edge_frozen 0;
            }}
            if ($edge_frozen) {{
                return 503;
            }}
            error_page 503 = @writes_frozen;  # only this return: registry 503s are not intercepted
"""
    frozen = f"""        location @writes_frozen {{
            add_header Docker-Distribution-Api-Version registry/2.0 always;
            add_header Retry-After {FREEZE_RETRY_AFTER_SECONDS} always;
            default_type application/json;
            return 503 '{_FROZEN_BODY}';
        }}

"""
    return check, frozen


_ACCESS_LOCATIONS = f"""        # runs after auth_basic (the access phase, in nginx's module order), so $remote_user is proven
        location = /_edge/authorize {{
            internal;
            if ($edge_refused) {{
                return 403;
            }}
            return 204;
        }}

        location @denied {{
            add_header Docker-Distribution-Api-Version registry/2.0 always;
            default_type application/json;
            return 403 '{DENIED_BODY}';
        }}

        location @invalid_path {{
            add_header Docker-Distribution-Api-Version registry/2.0 always;
            default_type application/json;
            return 404 '{INVALID_PATH_BODY}';
        }}

        location @form_body {{
            add_header Docker-Distribution-Api-Version registry/2.0 always;
            default_type application/json;
            return 400 '{FORM_BODY_BODY}';
        }}

"""


def _registry_server(
    listen: str, names: str, tls: str, files: EdgeFiles, mirror_paths: str, expired_check: str = ""
) -> str:
    """The server of the certificate's names: auth, the pull/push split, the freeze, the mirrors."""
    freeze, frozen = _freeze_check(files)
    return f"""    server {{
        listen {listen} ssl;
        server_name {names};
{tls}

        client_max_body_size 0;
        chunked_transfer_encoding on;
        absolute_redirect off;  # a redirect keeps the host and port the client used

        location = /v2 {{
            return 301 /v2/;
        }}

        location /v2/ {{
            # a path the edge cannot attribute to one repository: refused before any login or rule
            if ($edge_route = invalid) {{
                return 404;
            }}
            if ($edge_form_body) {{
                return 400;
            }}
            error_page 404 = @invalid_path;
            error_page 400 = @form_body;
{expired_check}{freeze}            auth_basic "registry";
            auth_basic_user_file {files.htpasswd};  # every user: proves who they are
            auth_request /_edge/authorize;  # then registry:access: may this user do this, here?
            error_page 403 = @denied;
            add_header Docker-Distribution-Api-Version $docker_distribution_api_version always;
            proxy_pass http://registry;
{_PROXY_AS_ACTOR}
        }}

{_ACCESS_LOCATIONS}{mirror_paths}{frozen}{_HEALTH}
        location / {{
            return 404;
        }}
    }}
"""


def _metrics(metrics: EdgeMetrics | None, listen_address: str | None, names: str, tls: str, files: EdgeFiles) -> str:
    if metrics is None:
        return ""
    return metrics_server(metrics, listen_address=listen_address, names=names, tls=tls, htpasswd=files.htpasswd)


def _health_server(health_port: int | None) -> str:
    if health_port is None:
        return ""
    return f"""
    # plain-HTTP health on loopback, for the container's own health check
    server {{
        listen 127.0.0.1:{health_port};
        access_log off;
{_HEALTH}
    }}
"""
