"""The audit log: paging, filters and the CSV export."""

from __future__ import annotations

import csv
import io
import re

import pytest

from sentra_tunnel.models import audit

CSV_COLUMNS = ["id", "ts", "actor", "tenant_id", "action", "target", "ip", "outcome", "details"]
CSV_HEADER = ",".join(f'"{column}"' for column in CSV_COLUMNS)  # every cell quoted


@pytest.fixture
async def entries(tenant) -> list[int]:
    """Five entries of the bakery, oldest first; ids returned in that order."""
    ids = []
    for number in range(5):
        entry = await audit.record(
            "user.update" if number % 2 else "shop.create",
            actor="bakery-admin",
            target=f"user:{number}",
            tenant_id=tenant.id,
            ip="198.51.100.4",
            details={"n": number},
        )
        ids.append(entry.id)
    return ids


async def entries_at(client, query: str = "") -> list[dict]:
    response = await client.get("/api/audit" + query)
    assert response.status_code == 200, await response.get_data()
    return (await response.get_json())["entries"]


async def test_newest_first_with_every_field(admin_client, tenant, entries):
    listed = await entries_at(admin_client)
    ours = [entry for entry in listed if entry["action"] != "auth.login"]
    assert [entry["id"] for entry in ours] == entries[::-1]
    assert [entry["id"] for entry in listed] == sorted(entry["id"] for entry in listed)[::-1]
    newest = ours[0]
    assert set(newest) == {
        "id",
        "ts",
        "actor",
        "tenant_id",
        "action",
        "target",
        "ip",
        "outcome",
        "details",
    }
    assert newest["ts"].endswith("Z")
    assert (newest["actor"], newest["target"], newest["ip"], newest["outcome"]) == (
        "bakery-admin",
        "user:4",
        "198.51.100.4",
        "ok",
    )
    assert newest["details"] == {"n": 4}
    assert newest["tenant_id"] == tenant.id


async def test_limit_and_before_page_through(admin_client, entries):
    everything = [entry["id"] for entry in await entries_at(admin_client)]
    assert len(everything) == len(entries) + 1  # with the admin's login
    first = await entries_at(admin_client, "?limit=2&action=user.update")
    assert [entry["id"] for entry in first] == [entries[3], entries[1]]
    pages, before = [], ""
    while True:
        page = [entry["id"] for entry in await entries_at(admin_client, f"?limit=2{before}")]
        if not page:
            break
        assert len(page) <= 2
        pages.append(page)
        before = f"&before={page[-1]}"
    assert [len(page) for page in pages] == [2, 2, 2]
    assert sum(pages, []) == everything


async def test_action_filter(admin_client, entries):
    listed = await entries_at(admin_client, "?action=shop.create")
    assert [entry["id"] for entry in listed] == [entries[4], entries[2], entries[0]]
    assert await entries_at(admin_client, "?action=tenant.create") == []


async def test_device_filter(admin_client, tenant):
    from sentra_tunnel.models.device import Device

    door = await Device.acreate(tenant=tenant.id, shop=tenant.shop_a, name="Door")
    await audit.record("device.create", actor="x", target=f"device:{door.id}", tenant_id=tenant.id)
    await audit.record("device.create", actor="x", target="device:999", tenant_id=tenant.id)
    listed = await entries_at(admin_client, f"?device_id={door.id}")
    assert [entry["target"] for entry in listed] == [f"device:{door.id}"]


async def test_csv_export(admin_client, tenant, entries):
    await audit.record(
        "user.update",
        actor='=HYPERLINK("http://evil")',
        target="+cmd",
        tenant_id=tenant.id,
        ip="@home",
        outcome="-1",
        details={"note": "plain"},
    )
    response = await admin_client.get("/api/audit/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = (await response.get_data()).decode()
    assert text.splitlines()[0] == CSV_HEADER
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(entries) + 2  # with the admin's login
    evil = rows[0]
    assert evil["actor"] == '\'=HYPERLINK("http://evil")'
    assert evil["target"] == "'+cmd"
    assert evil["ip"] == "'@home"
    assert evil["outcome"] == "'-1"
    assert evil["details"] == '{"note": "plain"}'
    assert evil["tenant_id"] == str(tenant.id)
    assert evil["ts"].endswith("Z")
    assert [row["id"] for row in rows] == sorted((row["id"] for row in rows), key=int)[::-1]
    for row in rows:
        assert not row["actor"].startswith(("=", "+", "-", "@"))


async def test_csv_cells_are_always_quoted_and_guarded_after_every_separator(admin_client, tenant):
    """A German spreadsheet splits on ";": no piece of a cell may start a formula either."""
    await audit.record(
        "auth.login_failed",
        actor="a;=2*21;",
        target="user:x,+SUM(1)|@x",
        tenant_id=tenant.id,
    )
    text = (await (await admin_client.get("/api/audit/export.csv")).get_data()).decode()
    first = text.splitlines()[1]
    assert re.fullmatch(r'"[^"]*"(,"[^"]*")*', first), first
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["actor"] == "a;'=2*21;"
    assert row["target"] == "user:x,'+SUM(1)|'@x"
    for piece in re.split(r"[;,|]", row["actor"] + ";" + row["target"]):
        assert not piece.startswith(("=", "+", "-", "@")), piece


async def test_csv_export_uses_the_filters(admin_client, entries):
    response = await admin_client.get("/api/audit/export.csv?action=user.update")
    rows = list(csv.DictReader(io.StringIO((await response.get_data()).decode())))
    assert [int(row["id"]) for row in rows] == [entries[3], entries[1]]


async def test_superadmin_sees_every_tenant(superadmin_client, tenant, other_tenant, entries):
    await audit.record(
        "user.update", actor="kiosk-admin", target="user:9", tenant_id=other_tenant.id
    )
    listed = await entries_at(superadmin_client)
    assert {tenant.id, other_tenant.id} <= {entry["tenant_id"] for entry in listed}
