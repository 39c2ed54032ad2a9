"""Words for states, modes, roles and audit actions, in the user's language."""

from __future__ import annotations

from .i18n import gettext as _


def door_label(value: str | None) -> str:
    return {"open": _("Door open"), "closed": _("Door closed")}.get(value, _("Door unknown"))


def lock_label(value: str | None) -> str:
    return {"locked": _("Locked"), "unlocked": _("Unlocked")}.get(value, value or "")


def mode_label(value: str | None) -> str:
    return {"auto": _("Automatic"), "open": _("Held open"), "locked": _("Kept locked")}.get(
        value, value or ""
    )


def role_label(value: str | None) -> str:
    return {
        "viewer": _("Viewer"),
        "staff": _("Staff"),
        "admin": _("Admin"),
        "superadmin": _("Operator"),
    }.get(value, value or "")


def action_label(value: str) -> str:
    return {
        "auth.login": _("Login"),
        "auth.login_failed": _("Failed login"),
        "auth.logout": _("Logout"),
        "auth.password": _("Password changed"),
        "auth.password_failed": _("Password change failed"),
        "tenant.create": _("Tenant created"),
        "shop.create": _("Shop created"),
        "user.create": _("User created"),
        "user.update": _("User changed"),
        "user.delete": _("User deleted"),
        "device.create": _("Device created"),
        "device.register": _("Device registered"),
        "device.register_failed": _("Device registration refused"),
        "device.reprovision": _("Device reprovisioned"),
        "device.revoke": _("Device key revoked"),
        "device.delete": _("Device deleted"),
        "device.connect": _("Device connected"),
        "device.connect_refused": _("Device connection refused"),
        "device.disconnect": _("Device disconnected"),
        "command.open": _("Door opened"),
        "command.status": _("Status queried"),
        "command.get_config": _("Config read"),
        "command.set_config": _("Config saved"),
        "command.override": _("Mode override"),
    }.get(value, value)


TEMPLATE_GLOBALS = {
    "door_label": door_label,
    "lock_label": lock_label,
    "mode_label": mode_label,
    "role_label": role_label,
    "action_label": action_label,
}
