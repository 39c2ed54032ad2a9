"""The `sentra-tunnel` command: serve, migrate, create-user, reset-password, audit-verify."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import signal
import sys
from pathlib import Path

from .config import ConfigError, Settings, from_environment
from .db import database, migration_runner, open_sync, pending_migrations

READ_TIMEOUT_S = 300  # half-open browser sockets die; device tunnels have their own pong deadline
WEBSOCKET_MAX_MESSAGE = 64 * 1024
LISTEN_BACKLOG = 4096  # the kernel caps it at net.core.somaxconn


def fail(message: str, code: int = 2) -> None:
    print(f"sentra-tunnel: {message}", file=sys.stderr)
    raise SystemExit(code)


def hypercorn_config(settings: Settings):
    from hypercorn.config import Config

    from .access_log import AccessLogger

    config = Config()
    host = settings.bind_host
    config.bind = [f"[{host}]:{settings.port}" if ":" in host else f"{host}:{settings.port}"]
    config.websocket_max_message_size = WEBSOCKET_MAX_MESSAGE
    # A fleet reconnecting after a restart or a shop's phones reopening their pages arrive at
    # once; Hypercorn's default backlog of 100 drops the rest, and they retry after 1, 3, 7 s.
    config.backlog = LISTEN_BACKLOG
    # No protocol pings: the tunnel's own heartbeat (a probe every HEARTBEAT_S, answered or
    # closed) keeps NATs open and finds dead devices, and Hypercorn's ping task outlives a
    # closed connection by up to one interval, holding it past a restart's grace period.
    config.websocket_ping_interval = None
    config.read_timeout = READ_TIMEOUT_S
    # Hypercorn's records go through the app's escaping formatter (sentra_tunnel/logs.py).
    config.accesslog = logging.getLogger("hypercorn.access")
    config.errorlog = logging.getLogger("hypercorn.error")
    config.logger_class = AccessLogger
    if settings.tls_cert_file:
        config.certfile = settings.tls_cert_file
        config.keyfile = settings.tls_key_file
    return config


def serve(settings: Settings) -> None:
    from hypercorn.asyncio import serve as hypercorn_serve

    from . import create_app

    behind = pending_migrations(settings.database_url)
    if behind:
        fail(f"the database is behind ({', '.join(behind)}); run: sentra-tunnel migrate up")
    app = create_app(settings)
    scheme = "https" if settings.tls_cert_file else "http"
    print(
        f"Sentra Tunnel Server on {scheme}://localhost:{settings.port}/ "
        "(first login: admin / admin, then choose a new password)",
        flush=True,
    )
    coroutine = hypercorn_serve(
        app,
        hypercorn_config(settings),
        shutdown_trigger=lambda: _signalled_then_tunnels_closed(app),
    )
    try:
        import uvloop

        uvloop.run(coroutine)
    except ImportError:
        asyncio.run(coroutine)


async def _signalled_then_tunnels_closed(app) -> None:
    """Wait for SIGTERM/SIGINT, then end every live stream and close every tunnel (1001,
    offline) before Hypercorn stops: otherwise it waits out its grace period for sockets that
    never end by themselves, and the fleet's reconnect backoff grows meanwhile."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for name in ("SIGINT", "SIGTERM"):
        loop.add_signal_handler(getattr(signal, name), stop.set)
    await stop.wait()
    app.extensions["admission"].stopping = True
    app.extensions["broker"].close()
    await app.extensions["hub"].shutdown()


def migrate(settings: Settings, action: str) -> None:
    sync_db = open_sync(settings.database_url)
    try:
        runner = migration_runner(sync_db)
        if action == "up":
            applied = runner.up()
            print("applied: " + (", ".join(applied) if applied else "nothing, up to date"))
        elif action == "down":
            reverted = runner.down()
            print("reverted: " + (", ".join(reverted) if reverted else "nothing"))
        else:
            for migration in runner.status():
                state = (
                    f"applied {migration.applied:%Y-%m-%d %H:%M}"
                    if migration.applied
                    else "pending"
                )
                print(f"{migration.name}: {state}")
    finally:
        sync_db.close()


def _password_from(args) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("New password: ")
    if first != getpass.getpass("Repeat: "):
        fail("the passwords differ")
    return first


def _with_database(settings: Settings, work):
    """Run a short piece of account work against the database, outside the server."""
    from .security import hash_password_sync  # noqa: F401  (keeps bcrypt import errors early)

    behind = pending_migrations(settings.database_url)
    if behind:
        fail("the database is behind; run: sentra-tunnel migrate up")
    from .models import audit

    audit.use_key(audit.derive_key(settings.audit_secret))
    sync_db = open_sync(settings.database_url)
    database.initialize(sync_db)
    try:
        return work()
    finally:
        sync_db.close()


def create_user(settings: Settings, args) -> None:
    from .accounts import create_user_offline

    password = _password_from(args)
    message = _with_database(settings, lambda: create_user_offline(settings, args, password))
    print(message)


def reset_password(settings: Settings, args) -> None:
    from .accounts import reset_password_offline

    password = _password_from(args)
    message = _with_database(
        settings, lambda: reset_password_offline(settings, args.username, password)
    )
    print(message)


def audit_verify(settings: Settings, checkpoint_source: str | None) -> None:
    from .models.audit_chain import Checkpoint, verify_chain

    checkpoint = None
    if checkpoint_source:
        text = checkpoint_source
        if checkpoint_source == "-" or Path(checkpoint_source).is_file():
            text = sys.stdin.read() if checkpoint_source == "-" else Path(text).read_text()
        try:
            checkpoint = Checkpoint.parse(text)
        except ValueError as error:
            fail(f"--checkpoint: {error}")
    report = _with_database(settings, lambda: verify_chain(checkpoint))
    if not report.intact:
        fail("audit chain broken:\n  " + "\n  ".join(report.problems), code=1)
    proof = f", up to checkpoint entry {checkpoint.entry_id}" if checkpoint else ""
    print(f"audit chain intact: {report.checked} entries{proof}")


def _username(value: str) -> str:
    from .models.user import normalize_username

    return normalize_username(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sentra-tunnel", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the server (Hypercorn) on $PORT")
    migrate_parser = commands.add_parser("migrate", help="apply or revert schema migrations")
    migrate_parser.add_argument("action", choices=("up", "down", "status"))
    for name in ("create-user", "reset-password"):
        sub = commands.add_parser(name)
        sub.add_argument("username", type=_username)
        sub.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of standard input",
        )
        if name == "create-user":
            sub.add_argument(
                "--role", default="admin", choices=("viewer", "staff", "admin", "superadmin")
            )
            sub.add_argument("--tenant", help="tenant name (created if missing)")
    verify = commands.add_parser("audit-verify", help="recompute the audit log's keyed chain")
    verify.add_argument(
        "--checkpoint",
        metavar="LINE|FILE|-",
        help="a logged audit-checkpoint line, a log file holding one (the last counts), or -",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        settings = from_environment()
    except ConfigError as error:
        fail(f"bad setting {error}")
    if args.command == "serve":
        serve(settings)
    elif args.command == "migrate":
        migrate(settings, args.action)
    elif args.command == "create-user":
        create_user(settings, args)
    elif args.command == "reset-password":
        reset_password(settings, args)
    else:
        audit_verify(settings, args.checkpoint)
