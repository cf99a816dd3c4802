"""The shared record store: the team's run records in a PostgreSQL they already run.

It hangs off the engine through the run record's listeners (core/record.py): core knows
nothing of it. Layers: cli -> store -> core -> clients. The local record stays the truth
and the outbox; the store is a copy that its writers cannot change (append-only, INSERT
and SELECT only) and so anchors each record's chain where one engineer cannot rewrite it.

  schema.py      versioned schema, the chain trigger, the GRANTs for the engineers' role
  connection.py  one short-timeout session; errors as unreachable or refused
  outbox.py      which local records wait for the store (marker files)
  events.py      lines into the store, idempotent by (run, seq); the sync of the outbox
  writer.py      a run's lines on a thread of their own, so the store never slows a walk
  anchor.py      what `runbook verify` checks against the store and the ticket hash
"""

from __future__ import annotations
