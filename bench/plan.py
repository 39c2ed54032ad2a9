"""How big each scenario is: the full run and the quick one (under two minutes)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    name: str
    idle_counts: tuple[int, ...]  # tunnels held at each step of scenario (a)
    idle_timeout_s: float  # per step, until every tunnel is welcomed
    command_tunnels: int
    command_rates: tuple[int, ...]
    command_s: float
    search_rates: tuple[int, ...]  # tried in order above the best fixed rate, until one fails
    search_s: float
    refine_steps: int  # halvings of the gap between the best passing and the first failing rate
    storm_timeout_s: float
    sse_streams: int
    sse_open_s: float
    flood_rate: int
    flood_s: float
    flood_frames: int
    staff_users: int
    viewer_users: int
    baseline_counts: tuple[int, ...]
    echo_messages: int
    pool_size: int  # keep-alive connections the command load may hold
    grace_s: float  # how long a command run waits for its last answers ("unfinished" after)
    rejoin_s: float  # before the flood: how long to let devices left behind reconnect
    p99_limit_ms: float = 50.0
    soak_rate: int = 500


FULL = Plan(
    name="full",
    idle_counts=(1000, 5000, 10000),
    idle_timeout_s=90,
    command_tunnels=5000,
    command_rates=(100, 500, 1000),
    command_s=10,
    search_rates=(1500, 2000, 3000, 4000),
    search_s=5,
    refine_steps=2,
    storm_timeout_s=60,
    sse_streams=1000,
    sse_open_s=60,
    flood_rate=200,
    flood_s=8,
    flood_frames=3000,
    staff_users=50,
    viewer_users=10,
    baseline_counts=(1000, 5000),
    echo_messages=5000,
    pool_size=512,
    grace_s=16,
    rejoin_s=30,
)

QUICK = Plan(
    name="quick",
    idle_counts=(1000,),
    idle_timeout_s=10,
    command_tunnels=1000,
    command_rates=(100, 500),
    command_s=10,
    search_rates=(1000, 1500),
    search_s=3,
    refine_steps=1,
    storm_timeout_s=10,
    sse_streams=200,
    sse_open_s=15,
    flood_rate=100,
    flood_s=4,
    flood_frames=3000,
    staff_users=20,
    viewer_users=4,
    baseline_counts=(1000,),
    echo_messages=2000,
    pool_size=256,
    grace_s=4,
    rejoin_s=3,
)
