"""Draw the app icons (PNG, SVG) without an image library: `python -m sentra_tunnel.portal.icons`.

The PNGs are committed; run this again only when the design changes.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from ..config import PROJECT_ROOT

ICON_DIR = PROJECT_ROOT / "static" / "icons"
BACKGROUND = (15, 23, 42)  # slate-900
DOOR = (16, 185, 129)  # emerald-500
FLOOR = (226, 232, 240)  # slate-200
SAMPLES = 3
SVG = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">
<rect width="100" height="100" rx="22" fill="#0f172a"/>
<rect x="32" y="20" width="36" height="60" rx="3" fill="#10b981"/>
<circle cx="60" cy="52" r="3.5" fill="#0f172a"/>
<rect x="22" y="78" width="56" height="5" rx="2.5" fill="#e2e8f0"/>
</svg>
"""


def _inside_rounded(x: float, y: float, x0, y0, x1, y1, radius: float) -> bool:
    if not (x0 <= x <= x1 and y0 <= y <= y1):
        return False
    cx = min(max(x, x0 + radius), x1 - radius)
    cy = min(max(y, y0 + radius), y1 - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2


def _color_at(x: float, y: float, scale: float, rounded: bool) -> tuple[int, int, int, int]:
    """The colour at unit coordinates; `scale` shrinks the artwork (maskable safe zone)."""
    if rounded and not _inside_rounded(x, y, 0, 0, 1, 1, 0.22):
        return (0, 0, 0, 0)
    u, v = 0.5 + (x - 0.5) / scale, 0.5 + (y - 0.5) / scale
    if (u - 0.60) ** 2 + (v - 0.52) ** 2 <= 0.035**2:
        return (*BACKGROUND, 255)
    if _inside_rounded(u, v, 0.32, 0.20, 0.68, 0.80, 0.03):
        return (*DOOR, 255)
    if _inside_rounded(u, v, 0.22, 0.78, 0.78, 0.83, 0.025):
        return (*FLOOR, 255)
    return (*BACKGROUND, 255)


def _pixel(px: int, py: int, size: int, scale: float, rounded: bool) -> bytes:
    total = [0, 0, 0, 0]
    for sx in range(SAMPLES):
        for sy in range(SAMPLES):
            x = (px + (sx + 0.5) / SAMPLES) / size
            y = (py + (sy + 0.5) / SAMPLES) / size
            for index, channel in enumerate(_color_at(x, y, scale, rounded)):
                total[index] += channel
    return bytes(round(value / SAMPLES**2) for value in total)


def png(size: int, scale: float = 1.0, rounded: bool = True) -> bytes:
    rows = b"".join(
        b"\x00" + b"".join(_pixel(px, py, size, scale, rounded) for px in range(size))
        for py in range(size)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def write_icons(directory: Path = ICON_DIR) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "icon.svg").write_text(SVG)
    (directory / "icon-192.png").write_bytes(png(192))
    (directory / "icon-512.png").write_bytes(png(512))
    (directory / "icon-maskable-512.png").write_bytes(png(512, scale=0.8, rounded=False))


if __name__ == "__main__":
    write_icons()
