"""Runbook parameters of the `sandbox` profile: the windows of the sandbox's rules.

Kept apart from components.py so that choosing the profile stays light: the profile fills
in what a sandbox started by an older ditsops lacks (state.json keeps the parameters of
the `up` that made it), so a new runbook parameter does not wait for `down` and `up`.
"""

from __future__ import annotations

from ditsops.sandbox.rules import SANDBOX_WINDOW

# Their windows and a 15 m baseline; high-error-rate's recovery check over 3 s of 1 s
# scrapes, read 4 s after the fix (3 s and a scrape: only requests the fixed pods served).
SANDBOX_PARAMS = {
    "window": SANDBOX_WINDOW,
    "baseline": "15m",
    "baseline_step": "5s",
    "recheck_window": "3s",
    "recheck_after": "4s",
}
