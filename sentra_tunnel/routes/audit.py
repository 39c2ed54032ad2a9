"""The audit log: read it, filter it, export it as CSV."""

from __future__ import annotations

import csv
import io
import json
import re

from quart import Blueprint, Response
from quart_schema import validate_querystring, validate_response

from ..auth import current_account, require_role
from ..models.audit import entries_visible_to
from ..models.device import get_device_for
from ..ratelimit import rate_limit
from ..schemas import AuditList, AuditQuery

blueprint = Blueprint("audit", __name__, url_prefix="/api/audit")

CSV_COLUMNS = ("id", "ts", "actor", "tenant_id", "action", "target", "ip", "outcome", "details")
CSV_EXPORT_LIMIT = 10000
# A formula can start a cell, or a piece of one where a reader splits on ; , | or tab.
FORMULA_START = re.compile(r"(^|[;,|\t\r\n])(\s*[=+\-@\t\r])")


async def query_entries(query: AuditQuery, limit: int | None = None) -> list[dict]:
    user = current_account()
    if query.device_id is not None:
        await get_device_for(user, query.device_id)  # another tenant's device answers 404
    entries = await entries_visible_to(
        user,
        device_id=query.device_id,
        action=query.action,
        before=query.before,
        limit=limit or query.limit,
    )
    return [entry.to_dict() for entry in entries]


def _csv_cell(value) -> str:
    """Spreadsheets run cells that start like a formula; a quote before each possible start
    keeps them text, including after a separator a spreadsheet in another locale splits on."""
    text = json.dumps(value, sort_keys=True) if isinstance(value, dict) else str(value or "")
    return FORMULA_START.sub(lambda match: match.group(1) + "'" + match.group(2), text)


@blueprint.get("")
@rate_limit("api_limit")
@require_role("admin")
@validate_querystring(AuditQuery)
@validate_response(AuditList)
async def index(query_args: AuditQuery):
    """Audit entries, newest first; `before` is the id of the last entry already seen."""
    return {"entries": await query_entries(query_args)}


@blueprint.get("/export.csv")
@rate_limit("api_limit")
@require_role("admin")
@validate_querystring(AuditQuery)
async def export_csv(query_args: AuditQuery):
    """The same entries as CSV, up to 10 000 rows."""
    rows = await query_entries(query_args, limit=CSV_EXPORT_LIMIT)
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([_csv_cell(row[column]) for column in CSV_COLUMNS])
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )
