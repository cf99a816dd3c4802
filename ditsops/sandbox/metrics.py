"""The Prometheus text exposition format (version 0.0.4), written by hand.

Just enough for the Dits simulator: counters, gauges and histograms with labels, HELP
and TYPE lines, label and help escaping, and float formatting Prometheus accepts.
Kept dependency-free on purpose (no prometheus_client): the simulator computes its own
numbers and only needs them printed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Labels = Mapping[str, str]


def format_value(value: float) -> str:
    """A sample value as Prometheus parses it: integers without a fraction, +Inf/-Inf/NaN spelt out."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_labels(labels: Labels | None) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{key}="{escape_label_value(str(value))}"' for key, value in labels.items())
    return "{" + inner + "}"


@dataclass
class Histogram:
    """One histogram series, kept as per-bucket (not cumulative) counts.

    Counts are floats because the simulator spreads a fractional number of requests over
    the buckets each tick. Each bucket is floored on its own before summing, so a bucket
    shows a whole observation only once its own share adds up to one. Flooring the
    cumulative sums instead let rounding flip between neighbouring bounds from one scrape
    to the next: phantom 5-10 s requests that made a two-sample p99 jump over 5 s.
    """

    bounds: tuple[float, ...]
    counts: list[float] = field(default_factory=list)  # len(bounds) + 1, the last is (max, +Inf)
    total: float = 0.0  # the _sum

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0.0] * (len(self.bounds) + 1)

    def observe(self, value: float, times: float = 1.0) -> None:
        for index, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[index] += times
                break
        else:
            self.counts[-1] += times
        self.total += value * times

    def observe_distribution(self, times: float, cdf: Callable[[float], float], mean: float) -> None:
        """Add `times` observations spread by a cumulative distribution function."""
        if times <= 0:
            return
        previous = 0.0
        for index, bound in enumerate(self.bounds):
            current = cdf(bound)
            self.counts[index] += times * max(0.0, current - previous)
            previous = max(previous, current)
        self.counts[-1] += times * max(0.0, 1.0 - previous)
        self.total += times * mean

    def cumulative(self) -> list[int]:
        """Integer cumulative counts per bound and +Inf (the last one is also _count)."""
        running = 0
        result = []
        for count in self.counts:
            running += math.floor(count + 1e-9)
            result.append(running)
        return result


class Exposition:
    """Collects metric families and renders them as one text exposition."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def _header(self, name: str, kind: str, help_text: str) -> None:
        self._lines.append(f"# HELP {name} {escape_help(help_text)}")
        self._lines.append(f"# TYPE {name} {kind}")

    def _sample(self, name: str, value: float, labels: Labels | None = None) -> None:
        self._lines.append(f"{name}{format_labels(labels)} {format_value(value)}")

    def counter(self, name: str, help_text: str, samples: Iterable[tuple[Labels | None, float]]) -> None:
        self._header(name, "counter", help_text)
        for labels, value in samples:
            self._sample(name, math.floor(value + 1e-9), labels)

    def gauge(self, name: str, help_text: str, samples: Iterable[tuple[Labels | None, float]]) -> None:
        self._header(name, "gauge", help_text)
        for labels, value in samples:
            self._sample(name, value, labels)

    def histogram(self, name: str, help_text: str, series: Iterable[tuple[Labels | None, Histogram]]) -> None:
        self._header(name, "histogram", help_text)
        for labels, histogram in series:
            base = dict(labels or {})
            cumulative = histogram.cumulative()
            bounds: Sequence[float] = (*histogram.bounds, math.inf)
            for bound, count in zip(bounds, cumulative, strict=True):
                self._sample(f"{name}_bucket", count, {**base, "le": format_value(bound)})
            self._sample(f"{name}_sum", histogram.total, base)
            self._sample(f"{name}_count", cumulative[-1], base)

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"
