"""Commands from the portal: open, mode override and door config, with honest answers.

Every answer is a small partial that says what happened in plain words, including failures
(htmx swaps error statuses too, so the status stays truthful).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from quart import Blueprint, render_template

from ..auth import current_account
from ..door_schema import DAYS, MAX_SCHEDULE_SLOTS, format_ts
from ..errors import APIError
from ..ratelimit import rate_limit
from ..services.commands import MALFORMED_RESULT, run_command
from . import i18n
from .web import form, form_list, int_or_none, portal_page

blueprint = Blueprint("portal_door_actions", __name__, url_prefix="/doors/<int:door_id>")

OVERRIDE_DURATIONS = {"15m": 15 * 60, "1h": 3600}
MAX_ROWS = MAX_SCHEDULE_SLOTS + 2  # the stored slots plus the two empty rows of the form


async def answer(template: str, status: int = 200, **context):
    return await render_template(template, **context), status


async def command_answer(door_id: int, name: str, params: dict, template: str, **context):
    """Run the command and render its outcome, good or bad, into `template`."""
    try:
        result = await run_command(current_account(), door_id, name, params)
    except APIError as error:
        error = for_people(error)
        return await answer(template, error.status, door_id=door_id, error=error, **context)
    return await answer(template, door_id=door_id, result=result, **context)


def for_people(error: APIError) -> APIError:
    """A malformed answer is no refusal: say that it was not understood and may have acted."""
    detail = error.extra.get("device_error") or {}
    if error.code != "device_error" or detail.get("code") != MALFORMED_RESULT:
        return error
    words = i18n.gettext("The door's answer was not understood. It may or may not have acted.")
    return APIError(error.status, MALFORMED_RESULT, f"{words} ({detail.get('message', '')})")


@blueprint.post("/open")
@rate_limit("api_limit")
@portal_page("staff")
async def open_door(door_id: int):
    """Open the door now (optionally for `duration_s` seconds)."""
    duration = int_or_none((await form()).get("duration_s"))
    params = {"duration_s": duration} if duration else {}
    return await command_answer(door_id, "open", params, "partials/_open_result.html")


@blueprint.post("/override")
@rate_limit("api_limit")
@portal_page("staff")
async def override(door_id: int):
    """Set the door mode: auto, or open/locked for a while, until a time, or until revoked."""
    data = await form()
    params = override_params(data.get("mode", ""), data.get("end", ""), data.get("until", ""))
    if params is None:
        error = APIError(422, "validation_error", "", fields={"until": "time"})
        return await answer("partials/_override_result.html", 422, door_id=door_id, error=error)
    return await command_answer(door_id, "override", params, "partials/_override_result.html")


def override_params(mode: str, end: str, until: str) -> dict | None:
    if mode == "auto" or end == "forever":
        return {"mode": mode}
    if end in OVERRIDE_DURATIONS:
        return {"mode": mode, "duration_s": OVERRIDE_DURATIONS[end]}
    moment = next_local_time(until)
    return None if moment is None else {"mode": mode, "until": format_ts(moment)}


def next_local_time(hhmm: str) -> datetime | None:
    """The next moment the user's clock shows HH:MM: later today, else tomorrow."""
    try:
        hours, minutes = (int(part) for part in hhmm.split(":"))
        zone = i18n.current_timezone()
        now = datetime.now(zone)
        moment = now.replace(hour=hours, minute=minutes, second=0, microsecond=0)
    except ValueError:
        return None
    if moment <= now:
        moment += timedelta(days=1)
    return moment.astimezone(UTC)


@blueprint.get("/config")
@rate_limit("api_limit")
@portal_page("admin")
async def config(door_id: int):
    """The door's config form, read from the device (which must be online)."""
    return await command_answer(door_id, "get_config", {}, "partials/_config.html", days=DAYS)


@blueprint.post("/config")
@rate_limit("api_limit")
@portal_page("admin")
async def config_submit(door_id: int):
    """Save open duration, time zone and weekly schedule on the device."""
    params = await config_params()
    return await command_answer(
        door_id, "set_config", params, "partials/_config.html", days=DAYS, submitted=params
    )


async def config_params() -> dict:
    data = await form()
    schedule = []
    for index in range(min(int_or_none(data.get("rows")) or 0, MAX_ROWS)):
        days = [day for day in await form_list(f"days_{index}") if day in DAYS]
        start, end = data.get(f"from_{index}", ""), data.get(f"to_{index}", "")
        if days or start or end:
            schedule.append({"days": days, "from": start, "to": end})
    duration = int_or_none(data.get("open_duration_s"))
    return {
        "open_duration_s": duration if duration is not None else data.get("open_duration_s"),
        "timezone": data.get("timezone", ""),
        "schedule": schedule,
    }
