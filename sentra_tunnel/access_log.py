"""Hypercorn's access log, one short line per request.

Hypercorn's own line is built from a dictionary of every request and response header and every
environment variable, per request: about a third of a small request's cost. This line has the
fields an operator reads: client, request line, status and duration.
"""

from __future__ import annotations

from hypercorn.logging import Logger


class AccessLogger(Logger):
    async def access(self, request, response, request_time: float) -> None:
        if self.access_logger is None:
            return
        client = request.get("client") or ("-", "")
        status = response["status"] if response is not None else "-"
        self.access_logger.info(
            '%s:%s "%s %s %s" %s %.1fms',
            client[0],
            client[1] if len(client) > 1 else "",
            request.get("method", "GET"),
            request["path"],
            request.get("http_version", "ws"),
            status,
            request_time * 1000,
        )
