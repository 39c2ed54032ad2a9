"""A minimal HTTP/1.1 keep-alive client on asyncio streams: cheap enough to generate load.

One request at a time per connection, no pipelining. Responses are framed by Content-Length
(what the server sends) or, for streams such as Server-Sent Events, chunked encoding.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

HEAD_LIMIT = 65536
# Hypercorn drops idle keep-alive connections after 5 s; we retire ours a little earlier.
IDLE_RETIRE_S = 4.0


class ConnectionLost(Exception):
    """The connection closed or broke before a whole response arrived."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes = b""


def build_request(method: str, path: str, host: str, headers: dict, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer
        self.closed = False
        self.requests = 0
        self.last_used = time.monotonic()

    @classmethod
    async def open(cls, host: str, port: int, timeout: float = 10.0) -> Connection:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, limit=HEAD_LIMIT * 16), timeout
            )
        except (OSError, TimeoutError) as error:
            raise ConnectionLost(f"connect: {type(error).__name__}") from None
        return cls(reader, writer)

    def usable(self) -> bool:
        idle = time.monotonic() - self.last_used
        return not self.closed and not self.reader.at_eof() and idle < IDLE_RETIRE_S

    async def request(self, raw: bytes) -> Response:
        """Send one request and read the whole response."""
        self.requests += 1
        try:
            self.writer.write(raw)
            status, headers = await self.read_head()
            body = await self._read_body(headers)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
            self.close()
            raise ConnectionLost(type(error).__name__) from None
        if headers.get("connection", "").lower() == "close":
            self.close()
        self.last_used = time.monotonic()
        return Response(status, headers, body)

    async def read_head(self) -> tuple[int, dict[str, str]]:
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise ConnectionLost(f"bad status line {lines[0][:40]!r}")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        return int(parts[1]), headers

    async def _read_body(self, headers: dict[str, str]) -> bytes:
        if "content-length" in headers:
            return await self.reader.readexactly(int(headers["content-length"]))
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return b"".join([chunk async for chunk in self.chunks()])
        return b""

    async def chunks(self):
        """The body of a chunked response, chunk by chunk (ends at the last chunk)."""
        while True:
            size_line = await self.reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return
            chunk = await self.reader.readexactly(size + 2)
            yield chunk[:-2]

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.writer.close()
