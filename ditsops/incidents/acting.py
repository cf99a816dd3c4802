"""Who is acting now: the runs of an incident the store has no end of, checked against the
live leases where ditsops can see them.

The store knows which runs have not ended and which target each took a lease on (its
`lease` line with no `lease-released` after it). A run killed with -9 never writes its
end, so that alone would keep it "acting" forever: where the target is a Kubernetes
deployment and a Kubernetes API is configured (kubeconfig or kube_context), the Lease
object `ditsops-<deployment>` says whether that run still holds it (its holder's run and
renewTime, judged as core/lease.py judges them). PostgreSQL advisory-lock leases are not
checked from here (that needs a session on the target database): they show as unchecked.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ditsops.base.errors import DitsopsError
from ditsops.incidents.listing import IncidentSummary

if TYPE_CHECKING:
    from ditsops.core.config import Settings

# how core/lease.py names a Kubernetes lease's target in the `lease` line
_DEPLOYMENT = re.compile(r'deployment "([a-z0-9.-]{1,253})" in namespace ([a-z0-9-]{1,63})')
MAX_CHECKED = 20  # leases looked up per listing: bounded like the listing itself


def with_live_leases(settings: Settings, incidents: list[IncidentSummary]) -> list[IncidentSummary]:
    """The incidents, each acting run's lease marked live or gone where it can be told."""
    targets = sorted({a.holding for i in incidents for a in i.acting if a.holding})[:MAX_CHECKED]
    if not targets or not (settings.kubeconfig or settings.kube_context):
        return incidents
    from ditsops.clients.kube import NotFound
    from ditsops.core import connect
    from ditsops.core.lease import lease_free, lease_holder, lease_name

    holders: dict[str, str | None] = {}  # target -> the run holding its lease now (None: nobody)
    try:
        client = connect.kube(settings)
    except DitsopsError:
        return incidents  # no Kubernetes to ask: the leases stay unchecked
    now = datetime.now(UTC)
    try:
        for target in targets:
            found = _DEPLOYMENT.fullmatch(target)
            if not found:
                continue  # a database's advisory lock, or a line not written by ditsops: unchecked
            try:
                lease = client.in_namespace(found[2]).get("leases", lease_name(found[1]))
            except NotFound:
                holders[target] = None
            except (DitsopsError, ValueError):
                continue  # unreachable, refused, or not a deployment name: unchecked
            else:
                holders[target] = None if lease_free(lease, now) else lease_holder(lease).run_id
    finally:
        client.close()
    return [
        replace(
            incident,
            acting=[
                replace(a, lease=("live" if holders[a.holding] == a.run else "gone")) if a.holding in holders else a
                for a in incident.acting
            ],
        )
        for incident in incidents
    ]
