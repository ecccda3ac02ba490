"""A real SMTP server for tests: it listens on a free local port and keeps every message it receives.

A test may make it refuse recipients (`refusals`: address → the server's answer), or hold a message
it received before accepting it (clear `accepting`; `data_arrived` is set once a message is in), as
a slow server would."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator

import pytest


class RecordingSmtpHandler(socketserver.StreamRequestHandler):
    """Speaks enough SMTP (RFC 5321) for smtplib to deliver one message, and keeps it. It offers no
    extensions, so, as a strict server would, it refuses a message that is not 7-bit (no 8BITMIME)."""

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        self.reply("220 localhost test SMTP")
        envelope: dict = {"to": []}
        while line := self.rfile.readline().decode():
            command = line.strip().upper()
            if command.startswith(("EHLO", "HELO")):
                self.reply("250 localhost")
            elif command.startswith("MAIL FROM:"):
                envelope["from"] = line.strip()[10:]
                self.reply("250 OK")
            elif command.startswith("RCPT TO:"):
                recipient = line.strip()[8:]
                refusal = self.server.refusals.get(recipient.strip("<>"))
                if refusal:
                    self.reply(refusal)
                else:
                    envelope["to"].append(recipient)
                    self.reply("250 OK")
            elif command == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                body = []
                while (data := self.rfile.readline()).rstrip(b"\r\n") != b".":
                    body.append(data)
                content = b"".join(body)
                if not content.isascii():
                    self.reply("554 5.6.1 8-bit data, but 8BITMIME was not offered")
                    continue
                envelope["data"] = content.decode()
                self.server.data_arrived.set()
                self.server.accepting.wait(timeout=120)
                self.server.messages.append(dict(envelope))
                self.reply("250 OK queued")
            elif command == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("250 OK")


@pytest.fixture
def smtp_server() -> Iterator[socketserver.ThreadingTCPServer]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), RecordingSmtpHandler)
    server.messages = []
    server.refusals = {}
    server.data_arrived = threading.Event()
    server.accepting = threading.Event()
    server.accepting.set()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
