"""Capacity against a real server with a small database pool: hundreds of tunnels, live
streams and waiting commands at once, and no request ever answers 500."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections import Counter

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.support.live import LiveServer

from .conftest import LiveApi, RawDevice, _create_user

TUNNELS = 200
STREAMS = 100
COMMANDS = 100
COMMAND_DEVICES = 20
PROVISION_CONCURRENCY = 20
HEARTBEAT_S = 5
LOAD_WAIT_S = 30  # bound for anything under load; a working server takes a fraction
CONNECT_ATTEMPTS = 5
MAX_RETRY_AFTER_S = 5
CAPACITY_ENV = {
    "DATABASE_POOL_SIZE": "3",  # far fewer connections than open tunnels, streams or commands
    "REGISTER_LIMIT": "100000/minute",
    "API_LIMIT": "100000/minute",
    "LOGIN_IP_LIMIT": "100000/minute",
    "DEVICE_CONNECT_IP_LIMIT": "100000/minute",
    "HEARTBEAT_S": str(HEARTBEAT_S),
    "COMMAND_TIMEOUT_S": "10",
}
ADMIN = "capacity-admin"
EXCEPTION_LINE = re.compile(r"^[\w.]+(Error|Exception|Timeout)\w*: ")  # a traceback's last line
# What the slow doors answer to commands: unlike the hello state, so a result is recognisable.
COMMAND_STATE = {"door": "open", "lock": "unlocked", "mode": "open", "override_until": None}
OPEN_EVENT_STATE = {"door": "open", "lock": "locked", "mode": "auto", "override_until": None}


@pytest.fixture
def capacity_server(tmp_path):
    """A server per test: one that falls over must not take the next scenario down with it."""
    server = LiveServer(tmp_path, **CAPACITY_ENV)
    server.migrate()
    server.start()
    try:
        _create_user(server, ADMIN, "Capacity")
        yield server
    finally:
        server.stop()


@pytest.fixture
def statuses() -> Counter:
    """Every HTTP status the test's client received (a stream counts when its headers arrive)."""
    return Counter()


@pytest.fixture
async def admin(capacity_server, statuses) -> LiveApi:
    """The tenant's admin, on a client that may hold hundreds of connections at once and
    counts every status it receives."""

    async def record(response: httpx.Response) -> None:
        statuses[response.status_code] += 1

    api = LiveApi(
        capacity_server.url,
        timeout=LOAD_WAIT_S,
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=None),
        event_hooks={"response": [record]},
    )
    try:
        yield await api.login(ADMIN)
    finally:
        await api.http.aclose()


def server_errors(server: LiveServer) -> str:
    """The distinct exceptions the server logged, with counts, so a failing count says why."""
    found = Counter(line.strip() for line in server.output if EXCEPTION_LINE.match(line))
    return "\n".join(f"{count}x {line}" for line, count in found.most_common(8)) or "(none)"


def report(statuses: Counter, server: LiveServer) -> str:
    return f"statuses {dict(statuses)}\n{server_errors(server)}"


async def provision(api: LiveApi, shop_id: int, count: int) -> list[tuple[int, str]]:
    """Create and register `count` devices through the API, a bounded number at a time."""
    gate = asyncio.Semaphore(PROVISION_CONCURRENCY)

    async def one(number: int) -> tuple[int, str]:
        async with gate:
            device_id, token = await api.create_device(shop_id, f"Door {number}")
            return device_id, (await api.register(token))["api_key"]

    outcomes = await asyncio.gather(*(one(n) for n in range(count)), return_exceptions=True)
    failed = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert not failed, f"{len(failed)} of {count} devices not provisioned; first: {failed[0]}"
    return outcomes


class TunnelDevice(RawDevice):
    """A device that keeps its tunnel served: probes answered at once, commands after
    `delay_s` (a slow door). A refused upgrade is retried after its Retry-After, as the
    agent does; `handshakes` counts every upgrade's status."""

    def __init__(self, ws_url: str, api_key: str, handshakes: Counter, delay_s: float = 0.0):
        super().__init__(ws_url, api_key)
        self.handshakes = handshakes
        self.delay_s = delay_s
        self.probed = asyncio.Event()
        self.serving: asyncio.Task | None = None
        self._answers: set[asyncio.Task] = set()

    async def __aenter__(self) -> TunnelDevice:
        for _ in range(CONNECT_ATTEMPTS):
            try:
                self.ws = await connect(
                    self.ws_url,
                    additional_headers={"Authorization": f"Bearer {self.api_key}"},
                    compression=None,
                    open_timeout=LOAD_WAIT_S,
                )
            except InvalidStatus as refused:
                status = refused.response.status_code
                self.handshakes[status] += 1
                retry_after = refused.response.headers.get("Retry-After")
                if status not in (429, 503) or retry_after is None:
                    raise
                await asyncio.sleep(min(float(retry_after), MAX_RETRY_AFTER_S))
            else:
                self.handshakes[101] += 1
                return self
        raise AssertionError(f"upgrade still refused after {CONNECT_ATTEMPTS} attempts")

    async def __aexit__(self, *exc_info) -> None:
        if self.serving is not None:
            self.serving.cancel()
        for task in self._answers:
            task.cancel()
        if self.ws is not None:
            await self.ws.close()

    async def receive(self, timeout: float = LOAD_WAIT_S) -> dict:
        return await super().receive(timeout)

    def start_serving(self) -> None:
        self.serving = asyncio.ensure_future(self._serve())

    async def _serve(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                frame = json.loads(raw)
                if await self.answered_probe(frame):
                    self.probed.set()
                elif frame.get("type") == "command":
                    task = asyncio.ensure_future(self._answer_later(frame))
                    self._answers.add(task)
                    task.add_done_callback(self._answers.discard)

    async def _answer_later(self, command: dict) -> None:
        await asyncio.sleep(self.delay_s)  # the door's own latency, not a wait of the test
        with contextlib.suppress(ConnectionClosed):
            await self.answer(command, COMMAND_STATE)

    @property
    def closed(self) -> bool:
        return self.serving is not None and self.serving.done()


async def open_tunnels(
    stack: contextlib.AsyncExitStack, server: LiveServer, keys, handshakes: Counter, **options
) -> tuple[list[TunnelDevice], Counter]:
    """Open every tunnel at once and say hello; returns the welcomed devices and what
    happened to the others."""
    failures: Counter = Counter()

    async def one(api_key: str) -> TunnelDevice:
        device = await stack.enter_async_context(
            TunnelDevice(server.ws_url, api_key, handshakes, **options)
        )
        await device.hello()
        device.start_serving()
        return device

    welcomed = []
    for outcome in await asyncio.gather(*(one(key) for key in keys), return_exceptions=True):
        if isinstance(outcome, BaseException):
            failures[failure_name(outcome)] += 1
        else:
            welcomed.append(outcome)
    return welcomed, failures


def failure_name(error: BaseException) -> str:
    """`InvalidStatus 500`, `ConnectionClosedError 1008`, or the type and first line."""
    if isinstance(error, InvalidStatus):
        return f"InvalidStatus {error.response.status_code}"
    if isinstance(error, ConnectionClosed) and error.rcvd is not None:
        return f"{type(error).__name__} {error.rcvd.code}"
    first_line = next(iter(str(error).splitlines()), "")
    return f"{type(error).__name__}: {first_line[:120]}".rstrip(": ")


class EventStream:
    """One open `GET /events`: its status and its SSE data messages as they arrive."""

    def __init__(self, server: LiveServer, http: httpx.AsyncClient, path: str = "/events"):
        self.server, self.http, self.path = server, http, path
        self.status: int | None = None
        self.messages: asyncio.Queue[str | None] = asyncio.Queue()
        self.ending = ""
        self._context = None
        self._reader: asyncio.Task | None = None

    async def open(self) -> str:
        """Open the stream and return its first data message (the current state)."""
        self._context = self.http.stream("GET", self.path)
        response = await self._context.__aenter__()
        self.status = response.status_code
        assert self.status == 200, f"GET {self.path} answered {self.status}"
        self._reader = asyncio.ensure_future(self._read(response))
        return await self.next_data()

    async def _read(self, response: httpx.Response) -> None:
        data: list[str] = []
        try:
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    data.append(line.removeprefix("data:").removeprefix(" "))
                elif not line and data:
                    self.messages.put_nowait("\n".join(data))
                    data = []
            self.ending = "the server ended the stream"
        except httpx.HTTPError as error:
            self.ending = f"the stream broke: {error!r}"
        finally:
            self.messages.put_nowait(None)

    async def next_data(self, timeout: float = LOAD_WAIT_S) -> str:
        message = await asyncio.wait_for(self.messages.get(), timeout)
        assert message is not None, f"GET {self.path}: {self.ending}\n" + server_errors(self.server)
        return message

    async def data_with(self, *fragments: str, timeout: float = LOAD_WAIT_S) -> str:
        """The next data message containing every fragment; earlier ones are skipped."""
        async with asyncio.timeout(timeout):
            while True:
                message = await self.next_data(timeout)
                if all(fragment in message for fragment in fragments):
                    return message

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self._context is not None:
            with contextlib.suppress(httpx.HTTPError):
                await self._context.__aexit__(None, None, None)


async def test_200_tunnels_at_once(capacity_server, admin, statuses):
    """Every tunnel is welcomed, listed online and kept through its heartbeat probes."""
    keys = dict(await provision(admin, await admin.create_shop("Tunnels Main"), TUNNELS))
    handshakes: Counter = Counter()
    async with contextlib.AsyncExitStack() as stack:
        devices, failures = await open_tunnels(stack, capacity_server, keys.values(), handshakes)
        upgrades = f"handshakes {dict(handshakes)}, failures {dict(failures)}\n"
        assert handshakes[500] == 0, upgrades + server_errors(capacity_server)
        assert len(devices) == TUNNELS, upgrades + server_errors(capacity_server)
        # Each tunnel must survive its first heartbeat: the server probes, the device answers.
        probed = asyncio.gather(*(device.probed.wait() for device in devices))
        await asyncio.wait_for(probed, 3 * HEARTBEAT_S + LOAD_WAIT_S)
        listed = await admin.get("/api/devices")
        assert listed.status_code == 200, listed.text
        online = [d["id"] for d in listed.json()["devices"] if d["id"] in keys and d["online"]]
        assert len(online) == TUNNELS, f"{len(online)} of {TUNNELS} online"
        assert sum(device.closed for device in devices) == 0
    assert statuses[500] == 0, report(statuses, capacity_server)


async def test_100_streams_at_once(capacity_server, admin, statuses):
    """One user's 100 live pages open, other requests still answer, and an event reaches all."""
    [(door_id, api_key)] = await provision(admin, await admin.create_shop("Streams Main"), 1)
    streams = [EventStream(capacity_server, admin.http) for _ in range(STREAMS)]
    async with TunnelDevice(capacity_server.ws_url, api_key, Counter()) as device:
        await device.hello()
        device.start_serving()
        try:
            firsts = await asyncio.gather(*(s.open() for s in streams), return_exceptions=True)
            opened = [first for first in firsts if isinstance(first, str)]
            failed = Counter(failure_name(f) for f in firsts if not isinstance(f, str))
            assert len(opened) == STREAMS, f"{dict(failed)}; " + report(statuses, capacity_server)
            assert all(f'id="door-{door_id}"' in first for first in opened)
            # With every stream open, ordinary requests still get a connection.
            me, devices = await asyncio.gather(admin.get("/auth/me"), admin.get("/api/devices"))
            assert (me.status_code, devices.status_code) == (200, 200), report(
                statuses, capacity_server
            )
            await device.send({"type": "event", "event": "state", "data": OPEN_EVENT_STATE})
            status_update = (f'hx-target="#door-{door_id}-status"', 'data-door-state="open"')
            seen = await asyncio.gather(
                *(stream.data_with(*status_update) for stream in streams), return_exceptions=True
            )
            reached = sum(isinstance(message, str) for message in seen)
            assert reached == STREAMS, f"the state event reached {reached} of {STREAMS} streams"
        finally:
            await asyncio.gather(*(stream.close() for stream in streams))
    assert statuses[500] == 0, report(statuses, capacity_server)


async def test_100_commands_waiting_on_slow_doors(capacity_server, admin, statuses):
    """100 requests waiting on their doors at once all get the door's answer."""
    keys = dict(await provision(admin, await admin.create_shop("Commands Main"), COMMAND_DEVICES))
    handshakes: Counter = Counter()
    async with contextlib.AsyncExitStack() as stack:
        devices, failures = await open_tunnels(
            stack, capacity_server, keys.values(), handshakes, delay_s=0.2
        )
        assert len(devices) == COMMAND_DEVICES, f"handshakes {dict(handshakes)}, {dict(failures)}"
        door_ids = list(keys)
        responses = await asyncio.gather(
            *(
                admin.post(f"/api/commands/{door_ids[number % COMMAND_DEVICES]}/status")
                for number in range(COMMANDS)
            ),
            return_exceptions=True,
        )
    answered = [r for r in responses if isinstance(r, httpx.Response) and r.status_code == 200]
    results_ok = sum(r.json() == {"ok": True, "result": COMMAND_STATE} for r in answered)
    outcomes = Counter(
        r.status_code if isinstance(r, httpx.Response) else type(r).__name__ for r in responses
    )
    assert results_ok == COMMANDS, f"outcomes {dict(outcomes)}\n{server_errors(capacity_server)}"
    assert statuses[500] == 0, report(statuses, capacity_server)


async def test_stream_of_a_tenant_without_doors_stays_open(capacity_server, admin, statuses):
    """An empty door list is a state like any other: sent first, then the stream lives on."""
    shop_id = await admin.create_shop("Empty Main")
    stream = EventStream(capacity_server, admin.http)
    try:
        first = await stream.open()
        assert 'hx-target="#doors"' in first and 'id="door-' not in first
        # Still open and live: a door created now shows up on the same stream.
        door_id, _ = await admin.create_device(shop_id)
        await stream.data_with(f'id="door-{door_id}"')
    finally:
        await stream.close()
    assert statuses[500] == 0, report(statuses, capacity_server)


async def test_stream_of_a_deleted_door_removes_its_panel(capacity_server, admin, statuses):
    """A one-door stream tells the page to remove the panel of a door deleted meanwhile."""
    [(door_id, api_key)] = await provision(admin, await admin.create_shop("Deletion Main"), 1)
    stream = EventStream(capacity_server, admin.http, f"/events?door={door_id}")
    async with TunnelDevice(capacity_server.ws_url, api_key, Counter()) as device:
        await device.hello()
        device.start_serving()
        try:
            first = await stream.open()
            assert f'hx-target="#door-{door_id}-panel"' in first
            deleted = await admin.http.delete(
                f"/api/devices/{door_id}", headers={"X-CSRF-Token": admin.csrf}
            )
            assert deleted.status_code == 204, deleted.text
            await stream.data_with(f'hx-target="#door-{door_id}-panel" hx-swap="delete"')
        finally:
            await stream.close()
    listed = await admin.get("/api/devices")
    assert listed.status_code == 200 and listed.json()["devices"] == []
    assert (await admin.get("/auth/me")).status_code == 200
    assert (await admin.get(f"/events?door={door_id}")).status_code == 404
    assert statuses[500] == 0, report(statuses, capacity_server)


async def test_a_flooding_device_is_cut_off_and_other_doors_notice_nothing(
    capacity_server, admin, statuses
):
    """One device floods its tunnel with 3,000 frames while 50 commands go to ten other doors:
    every command is answered, the flooder is told once and closed with 1008, and the server
    still takes new tunnels."""
    flood_frames, neighbours, commands = 3000, 10, 50
    shop_id = await admin.create_shop("Flood Main")
    keys = dict(await provision(admin, shop_id, neighbours + 2))
    (flooder_key, newcomer_key), door_ids = list(keys.values())[:2], list(keys)[2:]
    handshakes: Counter = Counter()
    event = json.dumps({"type": "event", "event": "state", "data": OPEN_EVENT_STATE})

    async def flood(device: TunnelDevice) -> int:
        """Send without reading until the server closes; how many frames went out."""
        sent = 0
        with contextlib.suppress(ConnectionClosed):
            while sent < flood_frames and device.ws.protocol.close_rcvd is None:
                await device.ws.send(event)
                sent += 1
        return sent

    async def told(device: TunnelDevice) -> list[dict]:
        """Everything the flooder is sent until its tunnel closes, probes answered."""
        frames = []
        with contextlib.suppress(ConnectionClosed):
            async for raw in device.ws:
                frame = json.loads(raw)
                if not await device.answered_probe(frame):
                    frames.append(frame)
        return frames

    async def close_frame(device: TunnelDevice):
        """The server's close frame. websockets has no event for it, only for the end of TCP,
        which after a flood can trail it by many seconds."""
        while device.ws.protocol.close_rcvd is None:
            await asyncio.sleep(0.01)
        return device.ws.protocol.close_rcvd

    async with contextlib.AsyncExitStack() as stack:
        doors, failures = await open_tunnels(
            stack, capacity_server, [keys[door_id] for door_id in door_ids], handshakes
        )
        assert len(doors) == neighbours, f"handshakes {dict(handshakes)}, {dict(failures)}"
        flooder = await stack.enter_async_context(
            TunnelDevice(capacity_server.ws_url, flooder_key, handshakes)
        )
        await flooder.hello()
        reading = asyncio.ensure_future(told(flooder))
        sent, responses = await asyncio.wait_for(
            asyncio.gather(
                flood(flooder),
                asyncio.gather(
                    *(
                        admin.post(f"/api/commands/{door_ids[number % neighbours]}/status")
                        for number in range(commands)
                    ),
                    return_exceptions=True,
                ),
            ),
            LOAD_WAIT_S,
        )
        closed = None  # stays None if the server never closes the flooder: asserted below
        with contextlib.suppress(TimeoutError):
            closed = await asyncio.wait_for(close_frame(flooder), LOAD_WAIT_S)
        flooder.ws.transport.abort()
        frames = await asyncio.wait_for(reading, LOAD_WAIT_S)
        still_serving = sum(not door.closed for door in doors)

        async with TunnelDevice(capacity_server.ws_url, newcomer_key, handshakes) as newcomer:
            welcome = await newcomer.hello()

    outcomes = Counter(
        r.status_code if isinstance(r, httpx.Response) else type(r).__name__ for r in responses
    )
    answered = sum(
        isinstance(r, httpx.Response)
        and r.status_code == 200
        and r.json() == {"ok": True, "result": COMMAND_STATE}
        for r in responses
    )
    assert answered == commands, f"outcomes {dict(outcomes)}\n{server_errors(capacity_server)}"
    errors = [frame["error"]["code"] for frame in frames if frame["type"] == "error"]
    assert errors == ["rate_limited"], f"after {sent} frames the flooder got {frames[:5]}"
    assert closed is not None and closed.code == 1008, f"closed with {closed} after {sent} frames"
    assert still_serving == neighbours
    assert welcome["type"] == "welcome"
    assert handshakes[500] == 0 and statuses[500] == 0, report(statuses, capacity_server)
    assert server_errors(capacity_server) == "(none)"
