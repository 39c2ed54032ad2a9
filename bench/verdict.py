"""Rows of the table: every figure with its target, and ours as a ratio to the baselines."""

from __future__ import annotations

from .report import TARGET_RATE, Table, compact, count_status, k
from .stats import ms

KIB_LIMIT = 30
BARE_FACTOR = 2
P50_LIMIT_MS, P99_LIMIT_MS = 2, 10
RATIO_LIMIT = 1.5
SUSTAINED_TARGET = 1500
BACK_LIMIT_S = 10
SSE_P99_MS = 50
FLOOD_FACTOR = 2


def build(results: dict) -> Table:
    table, base = Table(), results.get("baselines") or {}
    _baselines(table, base)
    _provision(table, results.get("provision"))
    found = count_status(results, 500) + sum(
        n
        for key, n in ((results.get("provision") or {}).get("failed") or {}).items()
        if " 500 " in key
    )
    table.add("HTTP 500 answers, any scenario", str(found), "0", found == 0)
    limited = count_status(results, 429)
    note = " (the rate limiter refused: limits, not capacity)" if limited else ""
    table.add("HTTP 429 rate_limited answers, any scenario", f"{limited}{note}")
    _idle(table, results.get("idle"), base)
    _commands(table, results.get("commands"), base)
    _storm(table, results.get("storm"))
    _sse(table, results.get("sse"))
    _flood(table, results.get("flood"))
    _soak(table, results.get("soak"))
    for name, error in (results.get("errors") or {}).items():
        table.add(f"scenario {name}", f"failed: {error}"[:110], "runs to the end", False)
    return table


def _bare_kib(base: dict, count: int):
    rows = [r for r in (base.get("ws") or {}).get("idle", []) if r.get("kib_per_connection")]
    fitting = [r for r in rows if r["connections"] <= count] or rows
    return max(fitting, key=lambda r: r["connections"])["kib_per_connection"] if fitting else None


def _baselines(table: Table, base: dict) -> None:
    ws, quart = base.get("ws") or {}, base.get("quart") or {}
    for row in ws.get("idle", []):
        kib = row["kib_per_connection"]
        value = f"{kib} KiB" if kib is not None else "n/a"
        table.add(f"baseline: bare ws, KiB/conn @{k(row['connections'])}", value)
    echo, get = ws.get("echo") or {}, quart.get("get") or {}
    table.add(
        "baseline: bare ws echo RTT p50/p99", f"{ms(echo.get('p50_ms'))} / {ms(echo.get('p99_ms'))}"
    )
    table.add(
        "baseline: plain Quart GET p50/p99", f"{ms(get.get('p50_ms'))} / {ms(get.get('p99_ms'))}"
    )


def _provision(table: Table, data: dict | None) -> None:
    if not data:
        return
    people = f"{data['staff']} staff, {data['viewers']} viewers"
    value = f"{data['devices']} devices, {people} in {data['seconds']} s"
    table.add("provisioning through the API", value)
    if data.get("refused") or data.get("failed"):
        table.add(
            "provisioning refused (429/503) / failed",
            f"{compact(data['refused'])} / {compact(data['failed'])}"[:110],
        )


def _idle(table: Table, rows: list | None, base: dict) -> None:
    target = f"<= {KIB_LIMIT} KiB, <= {BARE_FACTOR}x bare ws"
    if not rows:
        table.add("memory per idle tunnel", "not measured", target, False)
        return
    for row in rows:
        label, kib, bare = k(row["tunnels"]), row["kib_per_tunnel"], _bare_kib(base, row["tunnels"])
        ratio = kib / bare if kib is not None and bare else None
        value = f"{kib} KiB" + (f" ({ratio:.2f}x bare)" if ratio is not None else "")
        value += f", {row['welcomed']}/{row['tunnels']} welcomed"
        met = (
            row["all_welcomed"]
            and kib is not None
            and kib <= KIB_LIMIT
            and (ratio or 99) <= BARE_FACTOR
        )
        table.add(f"memory per idle tunnel @{label}", value, target, met)
        table.add(
            f"connect rate @{label}", f"{row['connect_rate']} tunnels/s in {row['seconds']} s"
        )
        table.add(f"connect failures @{label}", compact({**row["failures"], **_closes(row)})[:110])


def _closes(row: dict) -> dict:
    return {f"closed {code}": n for code, n in (row.get("closes") or {}).items()}


def _baseline_p50(base: dict):
    echo = ((base.get("ws") or {}).get("echo") or {}).get("p50_ms")
    get = ((base.get("quart") or {}).get("get") or {}).get("p50_ms")
    return echo + get if echo is not None and get is not None else None


def _run_value(run: dict, bare) -> str:
    lat = run["latency"]
    ratio = f"{lat['p50_ms'] / bare:.1f}x" if lat["p50_ms"] is not None and bare else "n/a"
    return (
        f"p50/p99/p99.9 {_num(lat['p50_ms'])}/{_num(lat['p99_ms'])}/{_num(lat['p999_ms'])} ms "
        f"(p50 {ratio} baseline); ok {run['ok']}/{run['scheduled']}; "
        f"lag p99 {ms(run['generator_lag']['p99_ms'])}"
    )


def _num(value) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _commands(table: Table, data: dict | None, base: dict) -> None:
    rtt_target = f"p50 <= {P50_LIMIT_MS} ms, p99 <= {P99_LIMIT_MS} ms"
    if not data:
        table.add(f"command RTT @{TARGET_RATE}/s", "not measured", rtt_target, False)
        table.add(
            "sustained commands/s, p99 < 50 ms", "not measured", f">= {SUSTAINED_TARGET}", False
        )
        return
    bare, devices = _baseline_p50(base), k(data["devices"])
    for run in data["runs"] + data["search"]:
        table.add(f"commands @{run['rate_per_s']}/s, {devices} tunnels", _run_value(run, bare))
        if run["errors"]:
            table.add(f"  errors @{run['rate_per_s']}/s", compact(run["errors"])[:110])
    at = next((r for r in data["runs"] if r["rate_per_s"] == TARGET_RATE), None)
    if at is not None:
        p50, p99 = at["latency"]["p50_ms"], at["latency"]["p99_ms"]
        answered = at["scheduled"] and at["ok"] >= 0.99 * at["scheduled"]
        met = bool(answered) and p50 is not None and p50 <= P50_LIMIT_MS and p99 <= P99_LIMIT_MS
        value = f"p50 {ms(p50)}, p99 {ms(p99)}, ok {at['ok']}/{at['scheduled']}"
        table.add(f"command RTT @{TARGET_RATE}/s, {devices} tunnels", value, rtt_target, met)
        ratio = p50 / bare if p50 is not None and bare else None
        value = f"{ratio:.2f}" if ratio is not None else "n/a"
        met = bool(answered) and ratio is not None and ratio <= RATIO_LIMIT
        table.add("p50 / (Quart GET p50 + ws echo p50)", value, f"<= {RATIO_LIMIT}", met)
    best = data["sustained_rate"]
    table.add(
        "sustained commands/s, p99 < 50 ms",
        str(best),
        f">= {SUSTAINED_TARGET}",
        best >= SUSTAINED_TARGET,
    )


def _storm(table: Table, data: dict | None) -> None:
    target = f"<= {BACK_LIMIT_S} s, none left behind"
    if not data:
        table.add("agents back after a restart", "not measured", target, False)
        return
    back, left = data["back_seconds_after_ready"], data["left_behind"]
    if back is None:
        value = f"not all back within {data['waited_seconds']} s after listening"
    else:
        value = f"{back} s after listening ({data['back_seconds_after_sigterm']} s after SIGTERM)"
    value += f"; {left}/{data['agents']} left behind"
    met = back is not None and back <= BACK_LIMIT_S and left == 0
    table.add(f"{k(data['agents'])} agents back after a restart", value, target, met)
    table.add(
        "restart: stop / start",
        f"stop {data['stop']} in {data['stop_seconds']} s, start {data['start_seconds']} s",
    )
    failures = {k_: v for k_, v in data["failures"].items() if k_ not in ("http 503", "http 429")}
    value = f"503: {data['refused_503']}, 429: {data['refused_429']}; failed: {compact(failures)}"
    table.add("restart: handshakes refused / failed", value[:110])


def _sse(table: Table, data: dict | None) -> None:
    target = f"p99 <= {SSE_P99_MS} ms, all delivered"
    if not data:
        table.add("device event -> SSE streams", "not measured", target, False)
        return
    lat, streams = data["latency"], data["streams"]
    value = (
        f"p50 {ms(lat['p50_ms'])}, p99 {ms(lat['p99_ms'])}; delivered {data['delivered']}/{streams}"
    )
    met = data["delivered"] == streams and lat["p99_ms"] is not None and lat["p99_ms"] <= SSE_P99_MS
    table.add(f"device event -> {k(streams)} SSE streams", value, target, met)
    ended = compact(data["open_failures"])
    value = f"{data['opened']}/{streams} in {data['open_seconds']} s; ended or refused: {ended}"
    table.add("live pages opened", value[:110])


def _flood(table: Table, data: dict | None) -> None:
    target = f"<= {FLOOD_FACTOR}x without the flood"
    if not data:
        table.add("others' command p99 during a flood", "not measured", target, False)
        return
    calm, during = data["without_flood"], data["during_flood"]
    calm_p99, during_p99 = calm["latency"]["p99_ms"], during["p99_ms"]
    ratio = during_p99 / calm_p99 if calm_p99 and during_p99 is not None else None
    clean = not data["with_flood"]["errors"] and not calm["errors"]
    value = f"{ms(during_p99)} vs {ms(calm_p99)} without" + (f" ({ratio:.2f}x)" if ratio else "")
    errors = f"{compact(data['with_flood']['errors'])} / {compact(calm['errors'])}"
    value += f"; errors with/without: {errors}"
    table.add(
        "others' command p99 during a flood",
        value[:110],
        target,
        bool(clean and ratio and ratio <= FLOOD_FACTOR),
    )
    f = data["flood"]
    value = (
        f"sent {f['sent']}/{f['frames']} in {f['seconds']} s; "
        f"rate_limited frames {f['rate_limited_frames']} "
        f"({f['error_frames_per_s']}/s); close {f['close_code']} {f['close_reason']}"
    )
    table.add("flooding device received", value[:110])


def _soak(table: Table, data: dict | None) -> None:
    if not data:
        return
    run = data["commands"]
    value = (
        f"RSS {data['rss_first_minute_kib']} -> {data['rss_last_minute_kib']} KiB "
        f"({data['growth_percent']}%) over {data['seconds']} s; "
        f"p99 {ms(run['latency']['p99_ms'])}, "
        f"ok {run['ok']}/{run['scheduled']}"
    )
    table.add(f"soak @{run['rate_per_s']}/s: memory first vs last minute", value)
