"""The README and SECURITY.md stay true to the code: every setting documented, every package in
the layout, every test SECURITY.md cites for a promise still there."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from sentra_tunnel.config import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
SECURITY = (ROOT / "SECURITY.md").read_text()
INTERNAL_SETTINGS = {"testing"}  # set by the test suite, never by an operator


def section(text: str, title: str) -> str:
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_every_setting_is_in_the_readme_configuration_table():
    table = section(README, "Configuration")
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
    settings = {field.name.upper() for field in dataclasses.fields(Settings)}
    assert settings - {name.upper() for name in INTERNAL_SETTINGS} - documented == set()


def test_every_package_is_in_the_readme_layout():
    layout = section(README, "Layout")
    packages = {path.parent.name for path in (ROOT / "sentra_tunnel").glob("*/__init__.py")}
    assert {p for p in packages if f"`sentra_tunnel/{p}/`" not in layout} == set()


def test_the_readme_links_the_security_promises():
    assert "(SECURITY.md)" in README


def test_every_test_security_md_cites_exists():
    cited = re.findall(r"`(tests/[\w/]+\.py)(?:::(\w+))?`", SECURITY)
    assert len(cited) >= 20
    missing = []
    for path, name in cited:
        module = ROOT / path
        if not module.exists():
            missing.append(path)
        elif name and not re.search(rf"\bdef {name}\b", module.read_text()):
            missing.append(f"{path}::{name}")
    assert missing == []
