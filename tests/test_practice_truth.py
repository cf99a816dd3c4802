"""Practice that does not mislead: the shipped runbooks' escalation reminders and the
sandbox faults' evidence (log lines, GC facts) say what the real incident would."""

from __future__ import annotations

import re

import pytest

from ditsops.core.catalog import shipped_dir
from ditsops.core.loader import load_runbook

WHO = r"(Page|Tell) the (secondary on-call|DBA on call|engineering manager|storage team)\b"
SHIPPED = sorted(shipped_dir().glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_escalation_names_who_to_page_not_the_reader(path):
    """The walk is read by the on-call engineer: "Page the on-call engineer" tells them to
    page themselves. Each reminder names someone else, as the escalation says it."""
    book = load_runbook(path)
    assert book.escalation, f"{path.name} has no escalation"
    for reminder in book.escalation:
        named = re.match(WHO, reminder.say)
        assert named, f"{path.name}: {reminder.say!r} does not name who to page"
        assert "on-call engineer" not in reminder.say, f"{path.name}: {reminder.say!r} is said to its own reader"


def test_high_error_rate_escalates_to_the_secondary_then_the_manager():
    book = load_runbook(shipped_dir() / "high-error-rate.yaml")
    assert [(int(e.after.total_seconds() // 60), e.say) for e in book.escalation] == [
        (15, "Page the secondary on-call"),
        (30, "Page the engineering manager"),
    ]
