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
