"""Moved to `services/commands.py`; this name stays only until tests/tunnel imports from there."""

from ..services.commands import run_command

__all__ = ["run_command"]
