"""`sentra-register` against a tiny local HTTP(S) server on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sentra_tunnel.agent.config import load_config
from sentra_tunnel.agent.register import main

API_KEY = "secret-api-key-" + "x" * 32
REGISTERED = {"device_id": "dev_42", "api_key": API_KEY, "ws_url": "wss://tunnel.example.com/ws"}


class FakeServer(ThreadingHTTPServer):
    """Answers every POST with `self.reply` and records the requests it saw."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), RegisterHandler)
        self.requests: list[tuple[str, dict]] = []
        self.reply: tuple[int, object, dict] = (201, REGISTERED, {})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class RegisterHandler(BaseHTTPRequestHandler):
    server: FakeServer

    def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append((self.path, json.loads(body)))
        status, payload, headers = self.server.reply
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


def serve(server: FakeServer):
    # A short poll interval keeps shutdown() from waiting half a second per test.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    return thread


@pytest.fixture
def registry():
    server = FakeServer()
    serve(server)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def config_path(tmp_path):
    return tmp_path / "etc" / "tunnel.json"


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert API_KEY not in out + err
    return code, out, err


def test_success_writes_config_and_prints_device(registry, config_path, capsys):
    code, out, err = run(
        capsys, "--token", "reg_abc", "--server", registry.url + "/", "--config", str(config_path)
    )
    assert (code, err) == (0, "")
    assert "dev_42" in out and str(config_path) in out
    path, body = registry.requests[0]
    assert path == "/api/devices/register"
    assert body["token"] == "reg_abc" and body["hostname"] and body["agent_version"]
    config = load_config(config_path)
    assert (config.device_id, config.api_key) == ("dev_42", API_KEY)
    assert config.server == registry.url and config.ws_url == REGISTERED["ws_url"]
    assert config_path.stat().st_mode & 0o777 == 0o600


def test_relative_ws_url_is_resolved_against_the_server(registry, config_path, capsys):
    registry.reply = (201, {**REGISTERED, "ws_url": "/ws"}, {})
    assert (
        run(capsys, "--token", "t", "--server", registry.url, "--config", str(config_path))[0] == 0
    )
    assert load_config(config_path).ws_url == registry.url.replace("http", "ws") + "/ws"


def test_reregistering_keeps_local_gpio_settings(registry, config_path, capsys):
    args = ("--token", "t", "--server", registry.url, "--config", str(config_path))
    assert run(capsys, *args)[0] == 0
    data = json.loads(config_path.read_text())
    data["gpio"]["relay_pin"] = 22
    config_path.write_text(json.dumps(data))
    registry.reply = (201, {**REGISTERED, "device_id": 7, "api_key": "new-key"}, {})
    assert run(capsys, *args)[0] == 0
    config = load_config(config_path)
    assert (config.device_id, config.api_key, config.gpio.relay_pin) == (7, "new-key", 22)


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ((401, {"error": {"code": "invalid_token", "message": "no"}}, {}), "token was rejected"),
        (
            (429, {"error": {"code": "rate_limited", "message": "slow"}}, {"Retry-After": "30"}),
            "in 30 s",
        ),
        ((500, {"error": {"code": "internal", "message": "boom"}}, {}), "HTTP 500: internal boom"),
        ((201, b"<html>portal</html>", {}), "not a registration"),
        ((201, {**REGISTERED, "api_key": None}, {}), "malformed"),
    ],
)
def test_server_errors_exit_nonzero_without_config(registry, config_path, capsys, reply, message):
    registry.reply = reply
    code, out, err = run(
        capsys, "--token", "reg_x", "--server", registry.url, "--config", str(config_path)
    )
    assert code == 1 and out == ""
    assert err.startswith("sentra-register: ") and message in err
    assert err.count("\n") == 1
    assert not config_path.exists()


def test_unreachable_server(config_path, capsys):
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, _, err = run(
        capsys, "--token", "t", "--server", f"http://127.0.0.1:{port}", "--config", str(config_path)
    )
    assert code == 1 and "cannot reach" in err


def test_plain_http_to_another_host_is_refused(registry, config_path, capsys):
    code, _, err = run(
        capsys,
        "--token",
        "t",
        "--server",
        "http://tunnel.example.com",
        "--config",
        str(config_path),
    )
    assert code == 1 and "refusing plain http://" in err
    assert registry.requests == []


def test_insecure_allows_plain_http_with_a_warning(registry, config_path, capsys):
    server = registry.url.replace("127.0.0.1", "localhost")
    code, _, err = run(
        capsys, "--token", "t", "--server", server, "--config", str(config_path), "--insecure"
    )
    assert code == 0 and "WARNING" in err
    assert load_config(config_path).insecure is True


def test_unwritable_config_fails_before_spending_the_token(registry, tmp_path, capsys):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    code, _, err = run(
        capsys, "--token", "t", "--server", registry.url, "--config", str(blocker / "tunnel.json")
    )
    assert code == 1 and "cannot write config" in err
    assert registry.requests == []


@pytest.fixture
def tls_registry(tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl CLI needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    server = FakeServer()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    serve(server)
    yield server, server.url.replace("http:", "https:"), cert
    server.shutdown()
    server.server_close()


def test_tls_untrusted_certificate_then_ca_file(tls_registry, config_path, capsys):
    server, url, cert = tls_registry
    args = ("--token", "t", "--server", url, "--config", str(config_path))
    code, _, err = run(capsys, *args)
    assert code == 1 and "not trusted" in err and "--ca-file" in err
    assert run(capsys, *args, "--ca-file", str(cert))[0] == 0
    assert load_config(config_path).ca_file == str(cert)


def test_tls_to_a_plain_server_fails_clearly(registry, config_path, capsys):
    url = registry.url.replace("http:", "https:")
    code, _, err = run(capsys, "--token", "t", "--server", url, "--config", str(config_path))
    assert code == 1 and "TLS" in err
