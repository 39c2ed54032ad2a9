"""Browser fixtures: Debian's Chromium through Playwright, a phone-sized page, a real sim agent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.live import stop_process

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def browser():
    """Per test: sync Playwright keeps an event loop in this thread while it runs, which would
    break the asyncio tests that follow it in the same session."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_phone(browser):
    """`new_phone()` opens a fresh phone-sized browser context (own cookies) and returns a page."""
    contexts, policy_violations = [], []

    def open_page():
        context = browser.new_context(
            viewport=PHONE, locale="de-DE", timezone_id="Europe/Berlin", device_scale_factor=2
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: _note_policy_violation(message, policy_violations))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not policy_violations, "the Content-Security-Policy blocked: " + repr(policy_violations)


def _note_policy_violation(message, violations: list) -> None:
    if "Content Security Policy" in message.text:
        violations.append(message.text)


class SimAgent:
    """`sentra-register` then the sim agent, as the Pi would run them; signals move the door."""

    def __init__(self, workdir: Path):
        self.config = workdir / "agent.json"
        self.process: subprocess.Popen | None = None
        self.log = workdir / "agent.log"

    @staticmethod
    def _script(name: str) -> str:
        return str(Path(sys.executable).with_name(name))

    def register(self, token: str, server: str) -> None:
        subprocess.run(
            [
                self._script("sentra-register"),
                "--token",
                token,
                "--server",
                server,
                "--config",
                str(self.config),
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self._script("sentra-agent"), "--config", str(self.config), "--door", "sim"],
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def open_contact(self) -> None:
        self.process.send_signal(signal.SIGUSR1)

    def close_contact(self) -> None:
        self.process.send_signal(signal.SIGUSR2)

    def stop(self) -> None:
        stop_process(self.process)


@pytest.fixture
def sim_agent(tmp_path):
    agent = SimAgent(tmp_path)
    yield agent
    agent.stop()
