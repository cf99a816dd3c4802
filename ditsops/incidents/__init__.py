"""Incidents: the runs of every engineer that answer the same alerts, as one story.

An incident lives in the record store (ditsops/store/), append-only like the rest of it:
its row says which alert opened it (name, labels, when it started), and its events (join,
handoff, note, close, reopen) say what happened to it since; every state shown is derived
from them, never updated. Runs join an incident through their first line (`incident`),
which the store's runs.incident column carries, so the runs of every engineer are found
by one indexed query. Without a store there are no incidents: they are shared by nature.

  registry.py  finding, opening and joining an incident; its events (advisory-locked seq)
  listing.py   open incidents, and the team's runs, newest last, limited in the query
  timeline.py  one incident's merged timeline: changes and their undo, verdicts, what is left
  acting.py    who is acting now: runs without an end, checked against the live Kubernetes lease
  closing.py   closing: refused while its alerts fire, unless forced (and then recorded so)
  joining.py   what a starting run joins (the cli calls it once the run has its record)

Layers: cli -> incidents -> store, core -> clients.
"""

from __future__ import annotations
