"""Authenticated Redis commands over RESP on a plain socket, for the tools (no client library)."""

from __future__ import annotations

import socket
import ssl
import time


def redis_command(address: str, password: str, *args: str, tls: ssl.SSLContext | None = None) -> str | None:
    """One authenticated command over RESP (over TLS with `tls`, verifying the server's name);
    the reply's first line, or None if Redis does not answer."""
    host, port = address.rsplit(":", 1)
    request = b"".join(_resp(command) for command in (("AUTH", password), args))
    try:
        with socket.create_connection((host, int(port)), timeout=1) as plain:
            conn = tls.wrap_socket(plain, server_hostname=host) if tls is not None else plain
            conn.sendall(request)
            replies = b""
            deadline = time.monotonic() + 2
            while replies.count(b"\r\n") < 2 and time.monotonic() < deadline:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                replies += chunk
    except OSError:
        return None
    lines = replies.split(b"\r\n")
    if len(lines) < 2 or lines[0] != b"+OK":
        return None
    return lines[1][1:].decode()


def _resp(args: tuple[str, ...]) -> bytes:
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)
