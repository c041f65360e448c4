"""A webhook receiver for the data-plane tests: HTTPS on loopback with a CA of its own, recording
every event distribution posts, and able to be slow or down on demand."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from testbench.sandbox import LOOPBACK, free_port, serve_https, shut_down, write_certificates

EVENTS_TYPE = "application/vnd.docker.distribution.events.v2+json"  # notifications/event.go EventsMediaType


class Receiver:
    """`with Receiver(workdir) as hook:` serves https://127.0.0.1:<port>/events; `hook.ca_file` is
    what the registry must trust (SSL_CERT_FILE). `hold` makes every answer wait until released;
    `stop` and `start` take it down and bring it back on the same port."""

    def __init__(self, workdir: Path):
        self.dir = workdir
        write_certificates(
            workdir, common_name="webhook", dns_names=["localhost"], ip_addresses=[LOOPBACK], validity_days=2
        )
        self.port = free_port()
        self.events: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.held = threading.Event()  # set: answers wait until it is cleared
        self.waiting = threading.Event()  # set while an answer is held back
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"https://{LOOPBACK}:{self.port}/events"

    @property
    def ca_file(self) -> Path:
        return self.dir / "ca.crt"

    def start(self) -> None:
        self._server = serve_https(self.dir, self.port, _handler(self))

    def stop(self) -> None:
        shut_down(self._server)
        self._server = None

    def record(self, body: bytes, headers: dict[str, str]) -> None:
        with self._lock:
            self.events += json.loads(body)["events"]
            self.headers.append(headers)

    def wait_for(self, predicate: Any, timeout: float = 60) -> list[dict[str, Any]]:
        """The events that satisfy `predicate`, once there is at least one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = [e for e in self.events if predicate(e)]
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError(f"no such event within {timeout:.0f}s; received {len(self.events)}: {self.events[-5:]}")

    def __enter__(self) -> Receiver:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.held.clear()
        self.stop()


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            while receiver.held.is_set():
                receiver.waiting.set()
                time.sleep(0.05)
            receiver.waiting.clear()
            receiver.record(body, {k.lower(): v for k, v in self.headers.items()})
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            """Quiet: the test reads `events`."""

    return Handler
