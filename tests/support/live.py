"""A real server in a subprocess on 127.0.0.1, for tunnel, agent and browser tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
READY_MARK = "Running on"
START_TIMEOUT_S = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen | None) -> None:
    """SIGTERM, so the process shuts down as in production; SIGKILL if it hangs."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


class LiveServer:
    """`sentra-tunnel serve` on a free loopback port; restartable on the same port and database."""

    def __init__(self, data_dir: Path, **env: str):
        self.port = free_port()
        self.database_url = f"sqlite:///{data_dir / 'live.db'}"
        self.env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "SECRET_KEY": "live-test-secret-key-0123456789",
            "DEBUG": "true",
            "PORT": str(self.port),
            "BCRYPT_ROUNDS": "4",
            **env,
        }
        self.process: subprocess.Popen | None = None
        self.output: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def migrate(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "sentra_tunnel", "migrate", "up"],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        ready = threading.Event()
        self.output = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sentra_tunnel", "serve"],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

        def pump(stream):
            for line in stream:
                self.output.append(line)
                if READY_MARK in line:
                    ready.set()
            ready.set()  # the process ended: stop waiting either way

        threading.Thread(target=pump, args=(self.process.stdout,), daemon=True).start()
        if not ready.wait(START_TIMEOUT_S) or self.process.poll() is not None:
            self.stop()
            raise RuntimeError("server did not start:\n" + "".join(self.output[-30:]))

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()
