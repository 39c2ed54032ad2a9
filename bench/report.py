"""The verdict: figures with their targets and ratios to the baselines, as a table and JSON."""

from __future__ import annotations

import json
import time
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
TARGET_RATE = 500  # the rate the round-trip targets speak of


def k(count) -> str:
    return f"{count // 1000}k" if count and count >= 1000 and count % 1000 == 0 else str(count)


def count_status(node, status: int) -> int:
    """Answers with this HTTP status anywhere in the results (tallies say "500" or "http 500")."""
    names = (str(status), f"http {status}")
    if isinstance(node, dict):
        own = sum(v for key, v in node.items() if key in names and isinstance(v, int))
        return own + sum(
            count_status(v, status) for v in node.values() if isinstance(v, dict | list)
        )
    if isinstance(node, list):
        return sum(count_status(v, status) for v in node)
    return 0


def compact(counts: dict | None) -> str:
    return ", ".join(f"{key}: {value}" for key, value in (counts or {}).items()) or "none"


class Table:
    def __init__(self):
        self.rows: list[dict] = []

    def add(self, figure: str, value: str, target: str = "-", met: bool | None = None) -> None:
        self.rows.append({"figure": figure, "value": value, "target": target, "met": met})

    def render(self) -> str:
        heads = ("figure", "value", "target", "met?")
        cells = [(r["figure"], r["value"], r["target"], _met(r["met"])) for r in self.rows]
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]
        line = "  ".join("-" * w for w in widths)
        out = ["  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)), line]
        out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
        return "\n".join(out)


def _met(met: bool | None) -> str:
    return "-" if met is None else ("yes" if met else "NO")


def write_json(payload: dict) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path
