"""redis.conf for the blob-descriptor cache: memory-bounded, no persistence, password required."""

from __future__ import annotations


def render_redis_config(*, password: str, port: int = 6379, bind: str = "0.0.0.0", max_memory_mb: int = 256) -> str:
    if not password or any(c.isspace() or c == '"' for c in password):
        raise ValueError("the Redis password must be non-empty, without spaces or quotes")
    return "\n".join(
        [
            f"bind {bind}",
            f"port {port}",
            "protected-mode yes",
            f'requirepass "{password}"',
            f"maxmemory {max_memory_mb}mb",
            "maxmemory-policy allkeys-lru",  # a cache: evict rather than refuse writes
            'save ""',  # descriptors are rebuilt from storage; nothing to persist
            "appendonly no",
            "",
        ]
    )


def redis_cli_script(config_path: str, *command: str) -> str:
    """Shell that runs one redis-cli command inside the cache container, with the password read
    from its own redis.conf into REDISCLI_AUTH (never on a command line that `ps` shows)."""
    password = f"$(sed -n 's/^requirepass \"\\(.*\\)\"/\\1/p' {config_path})"
    return f'REDISCLI_AUTH="{password}" redis-cli --no-auth-warning {" ".join(command)}'
