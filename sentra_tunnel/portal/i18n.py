"""Translations and local time for the portal: Babel catalogues, German unless asked otherwise.

Catalogues are the `.po` files under `sentra_tunnel/translations/`; they are compiled in memory
at first use, so a fresh checkout needs no build step.
"""

from __future__ import annotations

import functools
import io
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from quart import Quart, g, request

LANGUAGES = {"de": "Deutsch", "en": "English"}
DEFAULT_LANGUAGE = "de"
DEFAULT_TIMEZONE = "Europe/Berlin"
UNTRANSLATED_PREFIXES = ("/api/", "/auth/", "/ws")
CATALOGUE_DIR = Path(__file__).resolve().parent.parent / "translations"

_language: ContextVar[str] = ContextVar("portal_language", default=DEFAULT_LANGUAGE)
_timezone: ContextVar[str] = ContextVar("portal_timezone", default=DEFAULT_TIMEZONE)


@functools.cache
def catalogue(language: str) -> NullTranslations:
    path = CATALOGUE_DIR / language / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as handle:
        parsed = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, parsed)
    buffer.seek(0)
    return Translations(buffer)


def current_language() -> str:
    return _language.get()


def use_language(language: str) -> None:
    """Make `language` the one templates and messages use in the current task."""
    _language.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)


def gettext(message: str, **variables) -> str:
    text = catalogue(current_language()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, count: int, **variables) -> str:
    text = catalogue(current_language()).ngettext(singular, plural, count)
    return text % {"num": count, **variables}


def pick_language(user) -> str:
    """The user's setting, else the browser's preference among ours, else German."""
    if user is not None and user.language in LANGUAGES:
        return user.language
    return request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT_LANGUAGE)


def pick_timezone() -> str:
    """The browser's zone (a cookie our script sets), else Berlin."""
    name = request.cookies.get("tz", "")
    try:
        if name and len(name) <= 64 and not name.startswith("/"):
            ZoneInfo(name)
            return name
    except (ValueError, KeyError, OSError):
        pass
    return DEFAULT_TIMEZONE


def current_timezone_name() -> str:
    return _timezone.get()


def current_timezone() -> ZoneInfo:
    return ZoneInfo(_timezone.get())


def use_timezone(name: str) -> None:
    _timezone.set(name)


def parse_ts(value) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def local_datetime(value, style: str = "medium") -> str:
    moment = parse_ts(value)
    if moment is None:
        return ""
    return format_datetime(moment, style, tzinfo=current_timezone(), locale=current_language())


def local_time(value) -> str:
    """A clock time for today, with the date when it is another day."""
    moment = parse_ts(value)
    if moment is None:
        return ""
    zone = current_timezone()
    today = datetime.now(zone).date()
    pattern = "HH:mm" if moment.astimezone(zone).date() == today else "d. MMM, HH:mm"
    if current_language() == "en" and pattern != "HH:mm":
        pattern = "MMM d, HH:mm"
    return format_datetime(moment, pattern, tzinfo=zone, locale=current_language())


def time_ago(value) -> str:
    moment = parse_ts(value)
    if moment is None:
        return gettext("never")
    delta = moment - datetime.now(UTC)
    if abs(delta.total_seconds()) < 10:
        return gettext("just now")
    return format_timedelta(
        delta, add_direction=True, threshold=1.1, locale=current_language(), format="long"
    )


async def _choose_language_and_zone() -> None:
    if request.path.startswith(UNTRANSLATED_PREFIXES):
        return  # JSON answers carry no translated text
    use_language(pick_language(g.get("user")))
    use_timezone(pick_timezone())


def init_app(app: Quart) -> None:
    app.jinja_env.add_extension("jinja2.ext.i18n")
    # Jinja's newstyle callables format the variables themselves: hand them the raw lookups.
    app.jinja_env.install_gettext_callables(
        lambda message: catalogue(current_language()).gettext(message),
        lambda singular, plural, count: catalogue(current_language()).ngettext(
            singular, plural, count
        ),
        newstyle=True,
    )
    app.jinja_env.filters.update(
        local_datetime=local_datetime, local_time=local_time, time_ago=time_ago
    )
    app.jinja_env.globals.update(current_language=current_language, LANGUAGES=LANGUAGES)
    app.before_request(_choose_language_and_zone)
