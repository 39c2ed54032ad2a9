"""Log records stay one line each, whatever a device or a browser put into them."""

from __future__ import annotations

import logging

from sentra_tunnel.logs import EscapingFormatter, escape


def formatted(message: str, *args, exc_info=None) -> str:
    record = logging.LogRecord("sentra", logging.INFO, __file__, 1, message, args, exc_info)
    return EscapingFormatter("%(levelname)s %(message)s").format(record)


def test_newlines_and_control_characters_in_values_are_escaped():
    line = formatted("agent %s", "1.0\n2026-12-02 ERROR forged\r\x1b[31m\u2028x")
    assert "\n" not in line and "\r" not in line and "\x1b" not in line and "\u2028" not in line
    assert line == "INFO agent 1.0\\n2026-12-02 ERROR forged\\r\\x1b[31m\\u2028x"


def test_a_backslash_stays_distinguishable_from_an_escape():
    assert escape("a\\nb") == "a\\\\nb" and escape("a\nb") == "a\\nb"


def test_a_traceback_keeps_its_lines_but_marks_each_of_them():
    try:
        raise ValueError("bad id 'x'\n2026-12-02 INFO sentra: forged record")
    except ValueError as error:
        line = formatted("failed", exc_info=(type(error), error, error.__traceback__))
    first, *rest = line.split("\n")
    assert first == "INFO failed"
    assert rest and all(part.startswith("| ") for part in rest)
