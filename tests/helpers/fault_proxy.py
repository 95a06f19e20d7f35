"""Test helpers: a real llama.cpp OpenAI-compatible server, and a fault-injecting HTTP proxy before it.

The proxy is plain `http.server` in a thread. Each POST gets the next fault of a fixed, cyclic
schedule (by arrival order): "ok" forwards; "drop" closes the connection without an answer;
"500" answers an internal error; "429" answers Too Many Requests with Retry-After; "slow"
forwards upstream (the server does the work) but answers only after `slow_seconds`, later than
the client's timeout. Every exchange is recorded, so a test can compare what was delivered with
what the client returned.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

FAULTS = ("ok", "drop", "500", "429", "slow")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def llama_server(
    gguf: Path,
    api_key: str | None = None,
    n_ctx: int = 2048,
    start_timeout: float = 120.0,
    n_threads: int = 2,
) -> Iterator[str]:
    """Run `python -m llama_cpp.server` on a free port; yields its base URL (…/v1) once /v1/models answers."""
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", str(n_threads), "--verbose", "False"]
    if api_key:
        cmd += ["--api_key", api_key]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}/v1"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"llama_cpp.server exited with {proc.returncode}: {proc.stderr.read()[-2000:]}"
                )
            try:
                if httpx.get(f"{base}/models", headers=headers, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("llama_cpp.server did not answer /v1/models in time")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


@dataclass
class Exchange:
    """One POST seen by the proxy."""

    ordinal: int
    fault: str
    request: dict[str, Any]
    arrived: float  # time.monotonic() when the request came in
    status: int | None = None  # what the upstream answered (None: not forwarded)
    contents: list[str] = field(default_factory=list)  # choice texts the upstream produced
    delivered: bool = False  # the answer went back to the client in time


class FaultProxy:
    """An HTTP proxy on 127.0.0.1 that injects faults into POSTs on a deterministic schedule."""

    def __init__(
        self,
        upstream: str,
        schedule: tuple[str, ...] = ("ok",),
        retry_after: str = "1",
        slow_seconds: float = 5.0,
    ):
        bad = set(schedule) - set(FAULTS)
        if bad:
            raise ValueError(f"unknown faults {bad}; known: {FAULTS}")
        parts = httpx.URL(upstream)
        self.upstream_root = f"{parts.scheme}://{parts.host}:{parts.port}"
        self.schedule = schedule
        self.retry_after = retry_after
        self.slow_seconds = slow_seconds
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}{parts.path}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _next(self, body: dict[str, Any]) -> Exchange:
        with self._lock:
            ordinal = len(self.exchanges)
            ex = Exchange(ordinal, self.schedule[ordinal % len(self.schedule)], body, time.monotonic())
            self.exchanges.append(ex)
            return ex

    def delivered(self) -> list[Exchange]:
        """The exchanges whose upstream answer reached the client."""
        return [e for e in self.exchanges if e.delivered]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def _forward(self, method: str, raw: bytes | None) -> httpx.Response:
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")
                }
                return httpx.request(
                    method, proxy.upstream_root + self.path, content=raw, headers=headers, timeout=300
                )

            def _reply(self, status: int, body: bytes, extra: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

            def do_GET(self) -> None:
                resp = self._forward("GET", None)
                self._reply(resp.status_code, resp.content)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                ex = proxy._next(json.loads(raw or b"{}"))
                if ex.fault == "drop":
                    self.close_connection = True  # no answer at all: the client sees a dropped connection
                    return
                if ex.fault == "500":
                    self._reply(500, b'{"error": {"message": "injected internal error"}}')
                    return
                if ex.fault == "429":
                    msg = b'{"error": {"message": "injected rate limit"}}'
                    self._reply(429, msg, {"Retry-After": proxy.retry_after})
                    return
                resp = self._forward("POST", raw)
                ex.status = resp.status_code
                if resp.status_code == 200:
                    ex.contents = [c["message"]["content"] for c in resp.json().get("choices", [])]
                if ex.fault == "slow":
                    time.sleep(proxy.slow_seconds)  # the client has timed out and retried by now
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self._reply(resp.status_code, resp.content)
                    return
                if self._client_gone():
                    return  # the client timed out while the upstream worked: not a delivery
                self._reply(resp.status_code, resp.content)
                ex.delivered = resp.status_code == 200

            def _client_gone(self) -> bool:
                readable, _, _ = select.select([self.connection], [], [], 0)
                try:
                    return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
                except OSError:
                    return True

        return Handler
