"""Terminal chart primitives for dashboard panels: braille line charts, sparklines, big
digits, proportional bars and heatmap cells. Pure: numbers in, rich Text lines out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from rich.text import Text

SPARKS = "▁▂▃▄▅▆▇█"
SHADES = " ░▒▓█"
PALETTE = ("green", "yellow", "blue", "dark_orange", "red", "magenta", "cyan", "bright_green", "bright_blue", "orchid")
# Grafana colour names -> rich colours; shades (dark-, semi-dark-, light-, super-light-) map to the hue.
GRAFANA_COLORS = {"orange": "dark_orange", "purple": "purple", "text": "default", "transparent": "default"}
_BRAILLE_BASE = 0x2800
_DOT = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))  # [row within cell][column within cell]

BIG_DIGITS = {
    "0": ("┏━┓", "┃ ┃", "┗━┛"),
    "1": ("╺┓ ", " ┃ ", "╺┻╸"),
    "2": ("╺━┓", "┏━┛", "┗━╸"),
    "3": ("╺━┓", " ━┫", "╺━┛"),
    "4": ("╻ ╻", "┗━┫", "  ╹"),
    "5": ("┏━╸", "┗━┓", "╺━┛"),
    "6": ("┏━╸", "┣━┓", "┗━┛"),
    "7": ("╺━┓", "  ┃", "  ╹"),
    "8": ("┏━┓", "┣━┫", "┗━┛"),
    "9": ("┏━┓", "┗━┫", "╺━┛"),
    ".": (" ", " ", "╻"),
    ",": (" ", " ", "╻"),
    "-": ("   ", "╺━╸", "   "),
    "$": ("┏╋╸", "┗╋┓", "╺╋┛"),
    " ": (" ", " ", " "),
}


def rich_color(grafana: str | None) -> str | None:
    """A Grafana colour name or hex as a rich colour (None: no colour)."""
    if not grafana:
        return None
    if grafana.startswith("#"):
        return grafana[:7]
    hue = grafana
    for prefix in ("super-light-", "semi-dark-", "dark-", "light-"):
        if hue.startswith(prefix):
            hue = hue[len(prefix) :]
            break
    color = GRAFANA_COLORS.get(hue, hue)
    return None if color == "default" else color


def finite(values: Sequence[float]) -> list[float]:
    return [v for v in values if not (math.isnan(v) or math.isinf(v))]


def sparkline(values: Sequence[float], width: int) -> str:
    """The last `width` values (averaged into `width` buckets when more) as ▁▂▃▅▇ blocks."""
    if width <= 0 or not values:
        return ""
    buckets = _resample(values, width)
    good = finite([b for b in buckets if b is not None])
    if not good:
        return ""
    low, high = min(good), max(good)
    return "".join(
        " " if b is None or not math.isfinite(b) else SPARKS[round(scaled(b, low, high) * (len(SPARKS) - 1))]
        for b in buckets
    )


def scaled(value: float, low: float, high: float) -> float:
    """Where `value` sits between `low` and `high`, from 0 to 1. Halved before subtracting:
    values near the float limits (a counter gone wild, a division by almost zero) must not
    overflow to inf and from there to NaN."""
    span = high / 2 - low / 2
    if not span:
        return 0.0
    return min(max((value / 2 - low / 2) / span, 0.0), 1.0)


def _resample(values: Sequence[float], width: int) -> list[float | None]:
    if len(values) <= width:
        return list(values)
    out: list[float | None] = []
    for index in range(width):
        part = finite(values[index * len(values) // width : (index + 1) * len(values) // width])
        out.append(sum(part) / len(part) if part else None)
    return out


def braille_chart(
    series: Sequence[tuple[Sequence[tuple[float, float]], str]],
    width: int,
    rows: int,
    start: float,
    end: float,
    low: float,
    high: float,
) -> list[Text]:
    """Lines of `width` braille cells, `rows` high, one coloured line per (points, colour);
    x is time from `start` to `end`, y is value from `low` to `high`."""
    dots_x, dots_y = width * 2, rows * 4
    cells: list[list[int]] = [[0] * width for _ in range(rows)]
    colors: list[list[str | None]] = [[None] * width for _ in range(rows)]
    span_t = (end - start) or 1.0

    def plot(x: int, y: int, color: str) -> None:
        if 0 <= x < dots_x and 0 <= y < dots_y:
            row, col = (dots_y - 1 - y) // 4, x // 2
            cells[row][col] |= _DOT[(dots_y - 1 - y) % 4][x % 2]
            colors[row][col] = color

    for points, color in series:
        previous: tuple[int, int] | None = None
        for t, v in points:
            if math.isnan(v) or math.isinf(v):
                previous = None  # a gap: Grafana does not join across missing points
                continue
            x = round((t - start) / span_t * (dots_x - 1))
            y = round(scaled(v, low, high) * (dots_y - 1))
            if previous is None:
                plot(x, y, color)
            else:
                x0, y0 = previous
                steps = max(abs(x - x0), abs(y - y0), 1)
                for i in range(1, steps + 1):
                    plot(x0 + round((x - x0) * i / steps), y0 + round((y - y0) * i / steps), color)
            previous = (x, y)
    lines = []
    for row in range(rows):
        line = Text()
        for col in range(width):
            bits = cells[row][col]
            line.append(chr(_BRAILLE_BASE + bits) if bits else " ", style=colors[row][col] or "")
        lines.append(line)
    return lines


def time_axis(start: float, end: float, width: int) -> str:
    """Start, middle and end times spread over `width` columns (HH:MM, with the date for ranges over a day)."""
    form = "%m-%d %H:%M" if end - start > 86400 else "%H:%M"
    labels = [datetime.fromtimestamp(t).strftime(form) for t in (start, (start + end) / 2, end)]
    if width < len(labels[0]) * 3 + 4:
        labels = [labels[0], "", labels[2]]
    line = [" "] * width
    for text, where in zip(labels, (0, (width - len(labels[1])) // 2, width - len(labels[2])), strict=True):
        for i, char in enumerate(text):
            if 0 <= where + i < width:
                line[where + i] = char
    return "".join(line)


def big_text(text: str) -> list[str] | None:
    """Three lines of big digits for the numeric head of `text` plus its unit tail, or None
    when a character has no big glyph."""
    head = text
    tail = ""
    for index, char in enumerate(text):
        if char not in BIG_DIGITS:
            head, tail = text[:index], text[index:]
            break
    if not head.strip():
        return None
    rows = ["".join(BIG_DIGITS[c][r] for c in head) for r in range(3)]
    return [rows[0], rows[1], rows[2] + tail]


def bar(fraction: float, width: int) -> str:
    """A proportional bar of `width` cells, eighths included."""
    if not math.isfinite(fraction):  # +Inf fills the bar; NaN (0/0) leaves it empty
        fraction = 1.0 if fraction > 0 else 0.0
    fraction = min(max(fraction, 0.0), 1.0)
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")).ljust(width)


def shade(fraction: float) -> str:
    if fraction <= 0 or math.isnan(fraction):
        return SHADES[0]
    return SHADES[min(len(SHADES) - 1, 1 + int(fraction * (len(SHADES) - 1)))]
