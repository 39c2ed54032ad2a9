"""Log lines that cannot be forged: every value a device or a browser sent is escaped.

A device's `agent_version` or a command id with a newline in it would otherwise start a log
line of its own, one that looks like the server wrote it. The formatter escapes control
characters (newlines included) in the finished message; a traceback keeps its lines, each
escaped and marked with "| ", so no line of it can pass for a record of its own.
"""

from __future__ import annotations

import logging
import re

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def escape(text: str) -> str:
    """Control characters, newlines included, as visible escapes."""
    return CONTROL.sub(_escaped, text.replace("\\", "\\\\").replace("\n", "\\n"))


def _escaped(match: re.Match) -> str:
    return match.group().encode("unicode_escape").decode()


class EscapingFormatter(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        return escape(super().formatMessage(record))

    def formatException(self, ei) -> str:  # noqa: N802
        return "\n".join(f"| {escape(line)}" for line in super().formatException(ei).splitlines())

    def formatStack(self, stack_info: str) -> str:  # noqa: N802
        return "\n".join(f"| {escape(line)}" for line in stack_info.splitlines())


def configure(level: int = logging.INFO) -> None:
    """The server's logging: one escaped line per record on stderr, Hypercorn's included."""
    handler = logging.StreamHandler()
    handler.setFormatter(EscapingFormatter(FORMAT))
    root = logging.getLogger()
    if not any(isinstance(h.formatter, EscapingFormatter) for h in root.handlers):
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
