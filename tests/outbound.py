"""Catching requests to the internet: the platform runs offline, so a command that asks a server
for anything (a version check, telemetry, a download) is a defect a test should see.

`recording_proxy()` listens on a local port and, set as the HTTP and HTTPS proxy of the processes
started with its environment, receives every request made through the libraries that honour those
variables (requests, urllib, httpx, pip). It answers each with 403 and keeps its first line
("CONNECT pypi.org:443 HTTP/1.1"), so the caller fails fast, as it would offline, and the test can
name who was asked. Local addresses bypass it.
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

LOCAL_ADDRESSES = "localhost,127.0.0.1,::1"
REFUSAL = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


@dataclass
class RecordingProxy:
    environment: dict[str, str]
    requests: list[str]


@contextmanager
def recording_proxy() -> Iterator[RecordingProxy]:
    recorded: list[str] = []

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            # A caller that gives up early closes the connection: what it sent is kept all the same.
            with suppress(OSError):
                recorded.append(self.rfile.readline(8192).decode("latin-1").strip())
                self.wfile.write(REFUSAL)

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True

    with Server(("127.0.0.1", 0), Handler) as server:
        address = f"http://127.0.0.1:{server.server_address[1]}"
        environment = {
            "HTTP_PROXY": address,
            "HTTPS_PROXY": address,
            "http_proxy": address,
            "https_proxy": address,
            "NO_PROXY": LOCAL_ADDRESSES,
            "no_proxy": LOCAL_ADDRESSES,
        }
        thread = threading.Thread(target=server.serve_forever, name="recording-proxy", daemon=True)
        thread.start()
        proxy = RecordingProxy(environment=environment, requests=recorded)
        try:
            yield proxy
        finally:
            server.shutdown()
            thread.join()
