"""Values in Grafana's units (`fieldConfig.defaults.unit`), formatted as Grafana shows them.

One small table per family: SI or IEC byte steps, time steps, per-second rates, currency,
and Grafana's custom `suffix:` / `prefix:` units. An unknown unit shows the number with
the unit's id after it, so nothing is silently dropped. Decimals follow Grafana's habit
of about three significant digits unless the panel fixes them.
"""

from __future__ import annotations

import math

SI_BYTES = ("B", "kB", "MB", "GB", "TB", "PB", "EB")
IEC_BYTES = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
SHORT = ("", " K", " Mil", " Bil", " Tri")
CURRENCY = ("", "K", "M", "B", "T")
RATES = {"reqps": "req/s", "ops": "ops/s", "cps": "c/s", "rps": "rd/s", "wps": "wr/s", "iops": "io/s"}
# Time units as seconds per unit, largest first, with Grafana's names.
TIME_STEPS = ((86400 * 365, "year"), (86400 * 7, "week"), (86400, "day"), (3600, "hour"), (60, "min"), (1, "s"))
TIME_UNITS = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def _number(value: float, decimals: int | None) -> str:
    """About three significant digits (Grafana's auto decimals) unless `decimals` is fixed."""
    if decimals is None:
        size = abs(value)
        if size >= 100 or float(value).is_integer():
            decimals = 0
        elif size >= 10:
            decimals = 1
        elif size >= 1 or size == 0:
            decimals = 2
        else:
            decimals = min(6, 1 - math.floor(math.log10(size)))
    return f"{value:.{max(decimals, 0)}f}"


def _scaled(value: float, base: float, names: tuple[str, ...], decimals: int | None, sep: str = " ") -> str:
    size, index = abs(value), 0
    while size >= base and index < len(names) - 1:
        size /= base
        index += 1
    shown = _number(math.copysign(size, value), decimals)
    return f"{shown}{sep}{names[index]}" if names[index] else shown


def _seconds(value: float, decimals: int | None) -> str:
    size = abs(value)
    if size == 0:
        return "0 s"
    if size < 1:
        for factor, name in ((1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns")):
            if size >= factor or name == "ns":
                return f"{_number(value / factor, decimals)} {name}"
    for factor, name in TIME_STEPS:
        if size >= factor:
            return f"{_number(value / factor, decimals)} {name}"
    return f"{_number(value, decimals)} s"


def _finite(value: float) -> str | None:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return None


def format_unit(value: float | None, unit: str | None, decimals: int | None = None) -> str:
    """`value` in `unit` (a Grafana unit id) as a short string: 15.2%, 126 TB, 45.3 ms, $1.14K."""
    if value is None:
        return "–"
    special = _finite(value)
    if special:
        return special
    unit = unit or "short"
    if unit.startswith("suffix:"):
        return _number(value, decimals) + unit[len("suffix:") :]
    if unit.startswith("prefix:"):
        return unit[len("prefix:") :] + _number(value, decimals)
    if unit == "percent":
        return f"{_number(value, 1 if decimals is None else decimals)}%"
    if unit == "percentunit":
        return f"{_number(value * 100, 1 if decimals is None else decimals)}%"
    if unit in ("bytes", "binbytes"):
        return _scaled(value, 1024, IEC_BYTES, decimals)
    if unit in ("decbytes", "decBytes"):
        return _scaled(value, 1000, SI_BYTES, decimals)
    if unit in ("Bps", "decBps"):
        return _scaled(value, 1000, SI_BYTES, decimals) + "/s"
    if unit == "binBps":
        return _scaled(value, 1024, IEC_BYTES, decimals) + "/s"
    if unit in TIME_UNITS:
        return _seconds(value * TIME_UNITS[unit], decimals)
    if unit in RATES:
        return _scaled(value, 1000, SHORT, decimals, sep="") + " " + RATES[unit]
    if unit == "currencyUSD":
        sign = "-" if value < 0 else ""
        return sign + "$" + _scaled(abs(value), 1000, CURRENCY, decimals, sep="")
    if unit == "none":
        return _number(value, decimals)
    if unit == "short":
        return _scaled(value, 1000, SHORT, decimals, sep="")
    return f"{_number(value, decimals)} {unit}"
