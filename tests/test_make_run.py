"""The README's path itself: `make run` brings up a server that answers a login."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

import httpx
import pytest

from tests.support.live import PROJECT_ROOT, free_port

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def test_make_run_serves_the_login(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}",
        "SECRET_KEY": "make-run-test-secret-0123456789",
        "BCRYPT_ROUNDS": "4",
    }
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run", f"PORT={port}"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def pump():
        for line in process.stdout:
            lines.append(line)
            if "Running on" in line:
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        assert ready.wait(120) and process.poll() is None, "".join(lines[-30:])
        assert any("admin / admin" in line for line in lines), "no first-login hint printed"
        # Debug serves plain http for local development: only this machine may reach it.
        assert any(f"Running on http://127.0.0.1:{port}" in line for line in lines), lines[-5:]
        response = httpx.post(
            f"http://127.0.0.1:{port}/auth/login",
            json={"username": "admin", "password": "admin"},
            timeout=10,
        )
        assert response.status_code == 200
        assert response.json()["user"]["must_change_password"] is True
    finally:
        os.killpg(process.pid, 15)
        process.wait(15)
