"""`unless_firing:` in the runbook format: alert names only, checked by the loader (and so
by `runbook lint`) with file and line; the shipped high-error-rate runbook uses it."""

from __future__ import annotations

import pytest

from ditsops.base.errors import RunbookError
from ditsops.core.catalog import find
from ditsops.core.loader import load_runbook

BOOK = """\
name: guarded
title: Guarded
steps:
  - id: check
    title: Check
    promql: up
  - id: grow
    title: Grow
    when: check failing
    unless_firing: {guard}
    kube: scale
    deployment: dits-server
    replicas: 5
"""


@pytest.mark.parametrize(
    "guard",
    ['"Database connections exhausted"', "'{{ alert }}'", '"up) or vector(1"', "{a: b}", str(list(range(11)))],
)
def test_unless_firing_takes_alert_names_only(tmp_path, guard):
    path = tmp_path / "guarded.yaml"
    path.write_text(BOOK.format(guard=guard))
    with pytest.raises(RunbookError) as caught:
        load_runbook(path)
    assert any(":10:" in p and "unless_firing" in p for p in caught.value.problems), caught.value.problems


def test_unless_firing_takes_one_name_or_a_list(tmp_path):
    path = tmp_path / "guarded.yaml"
    path.write_text(BOOK.format(guard="[DatabaseConnectionsExhausted, ServiceDown]"))
    assert load_runbook(path).step("grow").unless_firing == ("DatabaseConnectionsExhausted", "ServiceDown")


def test_high_error_rate_guards_its_scale_out_and_its_storage_branch():
    book = find("high-error-rate")
    assert book.step("scale-out").unless_firing == ("DatabaseConnectionsExhausted",)
    assert book.step("storage").unless_firing == ("DatabaseConnectionsExhausted",)
    assert [c.describe() for c in book.step("storage").when] == ["storage-health failing"]
