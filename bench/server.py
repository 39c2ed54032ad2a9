"""The server under test: `python -m sentra_tunnel serve` on 127.0.0.1, SQLite in a temp dir."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from . import system

READY_MARK = "Running on"
START_TIMEOUT_S = 60
ADMIN, TENANT = "bench-admin", "Bench"
PASSWORD = "bench-password-0123"
# Every client of the benchmark comes from 127.0.0.1, so per-address limits would measure
# the limiter, not the server. LOGIN_LIMIT also bounds POST /auth/password per address, which
# every new staff user must call once. Device frame budgets keep their defaults.
RAISED_LIMITS = {
    "LOGIN_LIMIT": "1000000/minute",
    "REGISTER_LIMIT": "1000000/minute",
    "API_LIMIT": "1000000/minute",
    "LOGIN_IP_LIMIT": "1000000/minute",
    "DEVICE_CONNECT_IP_LIMIT": "1000000/minute",
}
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SentraServer:
    """Migrated once, restartable on the same port and database."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = free_port()
        self.log_path = workdir / "server.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("DEBUG", "REDIS_URL")},
            "DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
            "SECRET_KEY": "bench-secret-key-0123456789abcdef",
            "PORT": str(self.port),
            "BCRYPT_ROUNDS": "4",
            "HEARTBEAT_S": "20",
            "PYTHONUNBUFFERED": "1",
            **RAISED_LIMITS,
        }
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process and self.process.poll() is None else None

    def _cli(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "sentra_tunnel", *args],
            env=self.env,
            cwd=PROJECT_ROOT,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )

    def prepare(self) -> None:
        """Migrate the empty database and create the tenant admin from the shell."""
        self._cli("migrate", "up")
        self._cli(
            "create-user", ADMIN, "--role", "admin", "--tenant", TENANT, "--password-stdin",
            stdin=PASSWORD + "\n",
        )  # fmt: skip

    async def start(self, timeout: float = START_TIMEOUT_S) -> float:
        """Start and wait until Hypercorn listens; returns the seconds it took."""
        began = time.monotonic()
        offset = system.log_size(self.log_path)
        self.process = system.spawn(
            [sys.executable, "-m", "sentra_tunnel", "serve"], self.env, self.log_path
        )
        ready = system.wait_for_line(self.log_path, READY_MARK, self.process, timeout, offset)
        if not await ready:
            await self.stop()
            raise RuntimeError("server did not start:\n" + system.tail(self.log_path))
        self.started_at = time.monotonic()
        return self.started_at - began

    async def stop(self, wait_s: float = system.STOP_WAIT_S) -> str:
        how = await system.stop_async(self.process, wait_s)
        self.process = None
        return how

    def rss_kib(self) -> int | None:
        return system.rss_kib(self.pid) if self.pid else None

    def alive(self) -> bool:
        return self.pid is not None
