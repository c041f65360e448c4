"""Container health checks, shared by the local containers and the aws task definitions.

What each check means decides what an orchestrator does with a failing container: ECS replaces a
task whose essential container is unhealthy, or whose target fails the load balancer's check.
So no check here depends on the object store. distribution answers 503 on EVERY path of its main
listener once its storage health check fails (health/health.go `Handler`, wrapped around the
whole app in registry/registry.go `NewRegistry`), ~30 s into an S3 outage; all instances share
that storage, so replacing them cannot help and would restart the whole fleet during a blip.

- registry: its main listener answers HTTP at all (200, or 503 "storage unavailable").
- edge: nginx answers its loopback /healthz, which needs a live registry behind it (the
  renderer counts a registry's 503 as up; see components/renderers/nginx.py).
- object store: SeaweedFS's unauthenticated /healthz (weed/s3api/s3api_server.go), `-f` so an
  error status fails it.
Commands run inside the official images: busybox `wget` (registry, nginx alpine), `curl`
(SeaweedFS installs it, docker/Dockerfile.go_build), `redis-cli` (redis alpine).
"""

from __future__ import annotations

from components.renderers.redis import redis_cli_script

INTERVAL_SECONDS = 10
TIMEOUT_SECONDS = 5
RETRIES = 3
START_PERIOD_SECONDS = 15


def registry_alive(port: int) -> list[str]:
    """Healthy while the registry answers: 2xx, or 503 because its storage check fails."""
    script = (
        f'out=$(wget -q -O /dev/null http://127.0.0.1:{port}/ 2>&1) || case "$out" in '
        '*" 503 "*) ;; *) echo "$out"; exit 1;; esac'
    )
    return ["CMD", "sh", "-c", script]


def edge_alive(health_port: int) -> list[str]:
    return ["CMD", "wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{health_port}/healthz"]


def object_store_alive(s3_port: int, path: str) -> list[str]:
    return ["CMD", "curl", "-fsS", "-o", "/dev/null", f"http://127.0.0.1:{s3_port}{path}"]


def redis_alive(config_path: str) -> list[str]:
    """PING with the password from the container's own redis.conf (never on the command line)."""
    return ["CMD", "sh", "-c", f"{redis_cli_script(config_path, 'ping')} | grep -q PONG"]
