"""Latency histograms (HdrHistogram, microsecond resolution) and their summaries."""

from __future__ import annotations

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 120_000_000  # two minutes: anything slower is a timeout anyway
SIGNIFICANT_DIGITS = 3


class Latency:
    """Record seconds, keep microseconds; report milliseconds."""

    def __init__(self) -> None:
        self.histogram = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)

    def record(self, seconds: float) -> None:
        micros = int(seconds * 1_000_000)
        self.histogram.record_value(min(max(micros, LOWEST_US), HIGHEST_US))

    @property
    def count(self) -> int:
        return self.histogram.get_total_count()

    def percentile_ms(self, percentile: float) -> float | None:
        if not self.count:
            return None
        return self.histogram.get_value_at_percentile(percentile) / 1000

    def summary(self) -> dict:
        """Count, p50/p99/p99.9, max and mean in milliseconds (None when empty)."""
        if not self.count:
            return {"count": 0, "p50_ms": None, "p99_ms": None, "p999_ms": None, "max_ms": None}
        return {
            "count": self.count,
            "p50_ms": self.percentile_ms(50),
            "p99_ms": self.percentile_ms(99),
            "p999_ms": self.percentile_ms(99.9),
            "max_ms": self.histogram.get_max_value() / 1000,
            "mean_ms": round(self.histogram.get_mean_value() / 1000, 3),
        }


def of(samples) -> Latency:
    """A histogram of these durations in seconds."""
    latency = Latency()
    for seconds in samples:
        latency.record(seconds)
    return latency


def ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} ms"
