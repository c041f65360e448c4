"""registry:mirrors on the self-hosted targets as clients and the edge see them.

Pure functions from the mirror settings to the edge's mirror entries and to what a user pastes
into a client: the image prefix to pull through, Docker's `daemon.json`, containerd's
`hosts.toml`, a worked pull. Local and aws differ only in host names and ports.

Client facts these follow (upstream source):
- Docker's `registry-mirrors` are used for Docker Hub pulls only (moby registry/service_v2.go
  lookupV2Endpoints) and get no credentials of their own: the classic image store offers the
  pull's Docker Hub login to any mirror, the containerd store none (daemon/containerd/resolver.go
  authorizerFromAuthConfig). A mirror that needs a login is therefore skipped and Docker pulls
  from Docker Hub itself; `anonymous: true` makes it usable.
- containerd's hosts.toml: with `override_path = true` the host URL's path is the API root, so
  `https://<edge>/v2/<mirror>` yields `/v2/<mirror>/library/alpine/manifests/3`
  (core/remotes/docker/config/hosts.go parseHostConfig). It holds no credentials: CRI takes them
  from the pull request or config.toml's registry.configs."<mirror host>".auth.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from components.config.intent import MIRROR_EXAMPLES
from components.config.mirrors import SelfHostedMirror
from components.renderers.nginx import SYSTEM_CA_BUNDLE, EdgeFiles, EdgeMirror, basic_authorization

MIRROR_EDGE_PORTS_FROM = 8444  # the edge's own port for the first root listener, then +1 each
MIRROR_INSTANCES = 2  # per mirror on local: one serves, one stands by (EdgeMirror)
CONTAINERD_CA = "/etc/containerd/certs.d/{namespace}/registry-ca.crt"
DOCKER_NEEDS_ANONYMOUS = (
    "Docker's daemon sends no login to a registry mirror, so it skips a mirror that needs one and pulls "
    "from Docker Hub itself; set the mirror's anonymous: true (within networks you trust) for registry-mirrors, "
    "or pull through the prefix after docker login"
)


def mirror_instances(replicas: int) -> int:
    """Instances per mirror on local: one serving and one standing by, or one beside a single registry."""
    return min(MIRROR_INSTANCES, replicas)


@dataclass(frozen=True)
class RootMirror:
    """A mirror with a listener of its own."""

    index: int  # in registry:mirrors
    name: str
    port: int  # what clients connect to
    edge_port: int  # where the edge serves it


def root_mirrors(mirrors: Sequence[SelfHostedMirror]) -> list[RootMirror]:
    """Every mirror with a listener of its own, the edge's ports given out in order."""
    found = [(i, m.name, m.root_port) for i, m in enumerate(mirrors) if m.root_port is not None]
    return [RootMirror(i, name, port, MIRROR_EDGE_PORTS_FROM + j) for j, (i, name, port) in enumerate(found)]


def edge_mirrors(
    mirrors: Sequence[SelfHostedMirror],
    servers: Callable[[int], list[str]],
    version: str,
    files: EdgeFiles,
) -> list[EdgeMirror]:
    """The edge's view: `servers(index)` are host:port of that mirror's instances, distribution
    `version`; `files` where the edge finds each mirror's upstream login and private CA."""
    edge_ports = {r.index: r.edge_port for r in root_mirrors(mirrors)}
    return [
        EdgeMirror(
            name=m.name,
            upstream=m.namespace,
            servers=servers(i),
            remote_url=m.remote_url,
            listen_port=edge_ports.get(i),
            anonymous=m.anonymous,
            login_file=files.mirror_login(i) if m.has_credentials else None,
            trusted_certificate=files.mirror_ca(i) if m.ca_certificate is not None else SYSTEM_CA_BUNDLE,
            basic_login=version != "2",
        )
        for i, m in enumerate(mirrors)
    ]


def upstream_authorization(mirror: SelfHostedMirror) -> str | None:
    """The Authorization value of a mirror's upstream login (None: it has none), as distribution's
    proxy sends it to a Basic upstream or a Bearer realm (registry/client/auth/session.go:
    basicHandler, and tokenHandler fetchTokenWithBasicAuth with the same credentials). A secret."""
    if mirror.username is None or mirror.access_token is None:
        return None
    return basic_authorization(mirror.username, mirror.access_token)


def example_image(mirror: SelfHostedMirror) -> str:
    """An image of the upstream, as named below the mirror (Docker Hub's official ones need library/)."""
    return MIRROR_EXAMPLES.get(mirror.upstream, "<repository>:<tag>")


def hosts_toml(namespace: str, mirrors: Sequence[tuple[SelfHostedMirror, str]], ca_file: str | None) -> str:
    """containerd's /etc/containerd/certs.d/<namespace>/hosts.toml: the mirrors (each with the URL
    of its API root) first, in order, then the upstream itself when they fail."""
    lines = [f'server = "{mirrors[0][0].remote_url}"', ""]
    for _, url in mirrors:
        lines += [f'[host."{url}"]', '  capabilities = ["pull", "resolve"]', "  override_path = true"]
        if ca_file is not None:
            lines.append(f'  ca = "{ca_file}"')
        lines.append("")
    return "\n".join(lines)


def mirror_outputs(
    mirrors: Sequence[SelfHostedMirror], *, host: str, root_host: Callable[[int], str], private_ca: bool
) -> dict[str, Any]:
    """Stack outputs: `mirrors` (per mirror: prefix, URLs, a worked pull), `dockerDaemonJson` and
    `containerdHostsToml` (per upstream namespace). `host` is the registry's `name[:port]`;
    `root_host(port)` is how clients reach a root listener; `private_ca`: the stack's own CA signs."""
    if not mirrors:
        return {"mirrors": {}, "dockerDaemonJson": None, "containerdHostsToml": {}}
    per_mirror: dict[str, Any] = {}
    by_namespace: dict[str, list[tuple[SelfHostedMirror, str]]] = {}
    docker_hub: list[str] = []
    for m in mirrors:
        root = f"https://{root_host(m.root_port)}" if m.root_port is not None else None
        per_mirror[m.name] = {
            "upstream": m.namespace,
            "pullPrefix": f"{host}/{m.name}",
            "rootUrl": root,
            "login": "none (anonymous)" if m.anonymous else "any registry user (pull only)",
            "cachedForHours": m.ttl,
            "example": f"docker pull {host}/{m.name}/{example_image(m)}",
        }
        by_namespace.setdefault(m.namespace, []).append((m, f"https://{host}/v2/{m.name}"))
        if m.upstream == "docker.io" and root is not None:
            docker_hub.append(root)
    daemon = {"registry-mirrors": docker_hub} if docker_hub else None
    outputs: dict[str, Any] = {
        "mirrors": per_mirror,
        "dockerDaemonJson": daemon,
        "containerdHostsToml": {
            ns: hosts_toml(ns, entries, CONTAINERD_CA.format(namespace=ns) if private_ca else None)
            for ns, entries in by_namespace.items()
        },
    }
    if any(m.upstream == "docker.io" and m.root_port is not None and not m.anonymous for m in mirrors):
        outputs["dockerDaemonNote"] = DOCKER_NEEDS_ANONYMOUS
    return outputs
