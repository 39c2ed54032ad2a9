"""`sentra-register`: trade a one-time registration token for this Pi's API key and save it."""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

from pydantic import ValidationError

from sentra_tunnel.agent import AGENT_VERSION
from sentra_tunnel.agent.config import (
    AgentConfig,
    ConfigError,
    check_writable,
    load_config,
    path_for_write,
    save_config,
)
from sentra_tunnel.agent.net import INSECURE_WARNING, InsecureURLError, check_url, ssl_context

TIMEOUT_S = 15


class RegisterError(Exception):
    """A failure to report as one line on stderr."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sentra-register", description=__doc__)
    parser.add_argument("--token", required=True, help="registration token (reg_…)")
    parser.add_argument("--server", required=True, help="server URL, e.g. https://host")
    parser.add_argument("--config", type=Path, help="config file to write")
    parser.add_argument("--ca-file", help="CA certificate (PEM) for a private CA")
    parser.add_argument(
        "--insecure", action="store_true", help="allow plain http and skip TLS verification"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        device_id, path = register(args)
    except (RegisterError, ConfigError, InsecureURLError) as exc:
        print(f"sentra-register: {exc}", file=sys.stderr)
        return 1
    print(f"registered as device {device_id}; config written to {path}")
    return 0


def register(args: argparse.Namespace) -> tuple[str | int, Path]:
    server = args.server.rstrip("/")
    check_url(server, insecure=args.insecure)
    if args.insecure:
        print(f"sentra-register: {INSECURE_WARNING}", file=sys.stderr)
    path = args.config or path_for_write()
    check_writable(path)  # before the single-use token is spent
    context = _context(server, args)
    reply = _post_json(
        f"{server}/api/devices/register",
        {"token": args.token, "hostname": socket.gethostname(), "agent_version": AGENT_VERSION},
        context,
    )
    config = _build_config(reply, server, args, path)
    save_config(path, config)
    return config.device_id, path


def _context(server: str, args: argparse.Namespace) -> ssl.SSLContext | None:
    if urlsplit(server).scheme != "https":
        return None
    try:
        return ssl_context(args.ca_file, insecure=args.insecure)
    except (OSError, ssl.SSLError) as exc:
        raise RegisterError(f"cannot use CA file {args.ca_file}: {exc}") from None


def _post_json(url: str, body: dict, context: ssl.SSLContext | None) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S, context=context) as response:
            return _parse_reply(response.read())
    except urllib.error.HTTPError as exc:
        raise RegisterError(_http_error_message(exc)) from None
    except urllib.error.URLError as exc:
        raise RegisterError(_url_error_message(url, exc.reason)) from None
    except (TimeoutError, ConnectionError) as exc:
        raise RegisterError(f"cannot reach {url}: {exc or 'timed out'}") from None


def _parse_reply(raw: bytes) -> dict:
    try:
        reply = json.loads(raw)
    except ValueError:
        reply = None
    if not isinstance(reply, dict) or not {"device_id", "api_key"} <= reply.keys():
        raise RegisterError("the server's answer is not a registration (wrong --server URL?)")
    return reply


def _http_error_message(exc: urllib.error.HTTPError) -> str:
    try:
        error = json.loads(exc.read()).get("error") or {}
        code, message = error.get("code", ""), error.get("message", "")
    except (ValueError, AttributeError, OSError):
        code, message = "", ""
    if exc.code == 401:
        return (
            "the registration token was rejected (unknown, already used or expired); "
            "ask an admin for a new one"
        )
    if exc.code == 429:
        retry = exc.headers.get("Retry-After")
        return "too many attempts (rate limited); try again" + (f" in {retry} s" if retry else "")
    detail = f": {code} {message}".rstrip() if code or message else ""
    return f"the server answered HTTP {exc.code}{detail}"


def _url_error_message(url: str, reason: object) -> str:
    if isinstance(reason, ssl.SSLCertVerificationError):
        return (
            f"TLS certificate of {urlsplit(url).hostname} not trusted ({reason.verify_message}); "
            "pass --ca-file for a private CA"
        )
    if isinstance(reason, ssl.SSLError):
        return f"TLS handshake with {urlsplit(url).hostname} failed: {reason}"
    return f"cannot reach {url}: {reason}"


def _build_config(reply: dict, server: str, args: argparse.Namespace, path: Path) -> AgentConfig:
    ws_url = reply.get("ws_url") or "/ws"
    if not urlsplit(ws_url).scheme:  # a relative answer is resolved against the server
        base = urlsplit(server)
        scheme = "wss" if base.scheme == "https" else "ws"
        ws_url = urljoin(urlunsplit((scheme, base.netloc, "/", "", "")), ws_url)
    try:  # re-registering keeps local door and GPIO settings
        previous = load_config(path)
        extra = {"door": previous.door, "gpio": previous.gpio}
    except ConfigError:
        extra = {}
    try:
        return AgentConfig(
            server=server,
            device_id=reply["device_id"],
            api_key=reply["api_key"],
            ws_url=ws_url,
            ca_file=str(Path(args.ca_file).resolve()) if args.ca_file else None,
            insecure=args.insecure,
            **extra,
        )
    except ValidationError:
        raise RegisterError("the server's registration answer is malformed") from None


if __name__ == "__main__":
    sys.exit(main())
