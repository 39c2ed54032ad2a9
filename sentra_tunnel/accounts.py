"""Account work done from the command line, on a plain (synchronous) database connection."""

from __future__ import annotations

from .config import Settings
from .models.audit import _append
from .models.base import utcnow
from .models.tenant import Tenant
from .models.user import Session, User
from .security import hash_password_sync, password_problem


def _audit(action: str, user: User, details: dict | None = None) -> None:
    _append(
        {
            "ts": utcnow(),
            "actor": "cli",
            "tenant_id": user.tenant_id,
            "action": action,
            "target": f"user:{user.id}",
            "ip": "",
            "outcome": "ok",
            "details": details or {},
        }
    )


def _checked_password(password: str, username: str) -> str:
    problem = password_problem(password, username)
    if problem:
        raise SystemExit(f"sentra-tunnel: the password {problem}")
    return password


def create_user_offline(settings: Settings, args, password: str) -> str:
    if User.get_or_none(User.username == args.username):
        raise SystemExit(f"sentra-tunnel: user {args.username!r} exists already")
    if args.role != "superadmin" and not args.tenant:
        raise SystemExit("sentra-tunnel: --tenant is required for tenant roles")
    password_hash = hash_password_sync(
        _checked_password(password, args.username), settings.bcrypt_rounds
    )
    tenant = None
    if args.role != "superadmin":
        tenant, _ = Tenant.get_or_create(name=args.tenant)
    user = User.create(
        username=args.username,
        password_hash=password_hash,
        role=args.role,
        tenant=tenant,
        must_change_password=False,
    )
    _audit("user.create", user, {"username": user.username, "role": user.role})
    return f"created {user.role} {user.username!r}"


def reset_password_offline(settings: Settings, username: str, password: str) -> str:
    user = User.get_or_none(User.username == username)
    if user is None:
        raise SystemExit(f"sentra-tunnel: no user {username!r}")
    user.password_hash = hash_password_sync(
        _checked_password(password, username), settings.bcrypt_rounds
    )
    user.must_change_password = True
    user.disabled = False
    user.save()
    Session.delete().where(Session.user == user.id).execute()
    _audit("user.update", user, {"password_reset": True})
    return f"password of {username!r} reset; it must be changed at the next login"
