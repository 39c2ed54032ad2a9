"""The machine side: file limits, CPU pinning, RSS, versions, and child processes we own."""

from __future__ import annotations

import asyncio
import atexit
import os
import platform
import resource
import signal
import subprocess
import time
from importlib import metadata
from pathlib import Path

SERVER_CORE = 0
GENERATOR_CORE = 1
PACKAGES = ("quart", "hypercorn", "peewee", "websockets", "uvloop", "hdrhistogram", "httpx")
STOP_WAIT_S = 15

_children: list[subprocess.Popen] = []


def raise_file_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit (children inherit it); returns the new limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def pin(core: int, pid: int = 0) -> bool:
    """Pin a process (0 = this one) to one core; False when the machine lacks that core."""
    try:
        os.sched_setaffinity(pid, {core})
    except OSError:
        return False
    return True


def rss_kib(pid: int) -> int | None:
    """VmRSS of a process in KiB, or None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "packages": versions,
    }


def spawn(args: list[str], env: dict, log_path: Path, core: int = SERVER_CORE) -> subprocess.Popen:
    """Start a child on `core` with its output in a file; it is stopped when we exit."""
    log = open(log_path, "ab")  # noqa: SIM115 - the child owns it for its lifetime
    process = subprocess.Popen(
        args,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C reaches us; we stop it in order
        preexec_fn=lambda: (raise_file_limit(), pin(core)),
    )
    log.close()
    _children.append(process)
    return process


def _forget(process: subprocess.Popen) -> None:
    if process in _children:
        _children.remove(process)


def stop(process: subprocess.Popen | None, wait_s: float = STOP_WAIT_S) -> str:
    """SIGTERM, then SIGKILL after `wait_s`; says which it took."""
    if process is None:
        return "exited"
    how = "exited"
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        how = "terminated"
        try:
            process.wait(wait_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
            how = "killed"
    _forget(process)
    return how


async def stop_async(process: subprocess.Popen | None, wait_s: float = STOP_WAIT_S) -> str:
    """`stop` without blocking the event loop (the generator keeps its tunnels serviced)."""
    if process is None or process.poll() is not None:
        return stop(process)
    process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    while process.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    how = "terminated"
    if process.poll() is None:
        process.kill()
        how = "killed"
        while process.poll() is None:
            await asyncio.sleep(0.02)
    _forget(process)
    return how


def stop_all() -> None:
    for process in list(_children):
        stop(process, wait_s=5)


def log_size(log_path: Path) -> int:
    return log_path.stat().st_size if log_path.exists() else 0


async def wait_for_line(log_path: Path, mark: str, process, timeout: float, offset: int) -> bool:
    """Poll the child's log past `offset` until `mark` appears; False on timeout or exit."""
    deadline = time.monotonic() + timeout
    seen = b""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with open(log_path, "rb") as handle:
            handle.seek(offset)
            chunk = handle.read()
        offset += len(chunk)
        seen = (seen + chunk)[-65536:]
        if mark.encode() in seen:
            return True
        await asyncio.sleep(0.05)
    return False


def tail(log_path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


atexit.register(stop_all)
