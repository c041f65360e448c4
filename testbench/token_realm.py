"""A Bearer token realm for the data-plane tests, as Docker Hub's auth.docker.io answers one:
HTTPS on loopback with a CA of its own, `GET /token?service=..&scope=..` with a Basic login gets
200 and a token for the right login, 401 for any other (an anonymous request is refused too).
The tokens are opaque: a registry never accepts them, which is all the mirror tests need."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from components.renderers.nginx import basic_authorization
from testbench.sandbox import LOOPBACK, free_port, serve_https, shut_down, write_certificates


class TokenRealm:
    """`with TokenRealm(workdir, (user, password)) as realm:` serves `realm.url`; `realm.ca_file`
    is what clients must trust; `realm.requests` the query of every token request, in order."""

    def __init__(self, workdir: Path, login: tuple[str, str]):
        self.dir = workdir
        # the address as a DNS name too: njs checks a certificate's DNS names only (sandbox.py)
        write_certificates(workdir, common_name="realm", dns_names=[LOOPBACK], ip_addresses=[LOOPBACK], validity_days=2)
        self.port = free_port()
        self.expected = basic_authorization(*login)
        self.requests: list[dict[str, list[str]]] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"https://{LOOPBACK}:{self.port}/token"

    @property
    def ca_file(self) -> Path:
        return self.dir / "ca.crt"

    def __enter__(self) -> TokenRealm:
        self._server = serve_https(self.dir, self.port, _handler(self))
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        shut_down(self._server)
        self._server = None


def _handler(realm: TokenRealm) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            realm.requests.append(parse_qs(url.query))
            if url.path == "/token" and self.headers.get("Authorization") == realm.expected:
                status, body = 200, {"token": "opaque", "access_token": "opaque", "expires_in": 300}
            else:
                status, body = 401, {"details": "incorrect username or password"}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            """Quiet: the test reads `requests`."""

    return Handler
