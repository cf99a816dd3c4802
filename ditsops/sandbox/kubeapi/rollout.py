"""Rolling and recreate rollouts and the deployment status, after rolling.go,
recreate.go, progress.go and sync.go's calculateStatus. Mixed into the per-deployment
sync in ``deployment.py``, which provides the reads and writes."""

from __future__ import annotations

from typing import Any, Protocol

from .deployment_util import (
    RS,
    active,
    by_creation,
    deployment_complete,
    deployment_progressing,
    get_condition,
    has_progress_deadline,
    max_unavailable,
    new_condition,
    remove_condition,
    replicas,
    set_condition,
    status_of,
    total,
)
from .replicaset import parse_time
from .store import Obj, Store


class _Clock(Protocol):
    def now(self) -> str: ...


class RolloutMixin:
    """The rollout half of one deployment sync. The sync in ``deployment.py`` (which mixes
    this in) provides the state and the writes declared below; declaring them here, not
    importing that module, keeps the dependency one way: deployment -> rollout."""

    ctl: _Clock
    store: Store
    d: Obj
    ns: str
    name: str

    def update_status(self, status: dict[str, Any] | None = None) -> None:
        raise NotImplementedError

    def get_all_replica_sets_and_sync_revision(self, rs_list: list[Obj], create: bool) -> tuple[RS, list[Obj]]:
        raise NotImplementedError

    def new_rs_new_replicas(self, all_rss: list[RS], new_rs: Obj) -> int:
        raise NotImplementedError

    def scale_rs_and_record(self, rs: Obj, new_scale: int) -> bool:
        raise NotImplementedError

    def cleanup(self, old_rss: list[Obj]) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------ rolling.go

    def rollout_rolling(self, rs_list: list[Obj]) -> None:
        new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(rs_list, True)
        all_rss = old_rss + [new_rs]
        if self.reconcile_new_replica_set(all_rss, new_rs):
            return self.sync_rollout_status(all_rss, new_rs)
        if self.reconcile_old_replica_sets(all_rss, active(old_rss), new_rs):
            return self.sync_rollout_status(all_rss, new_rs)
        if deployment_complete(self.d, self.d.get("status") or {}):
            self.cleanup(old_rss)
        return self.sync_rollout_status(all_rss, new_rs)

    def reconcile_new_replica_set(self, all_rss: list[RS], new_rs: RS) -> bool:
        want = self.d["spec"].get("replicas", 1)
        if new_rs is None or replicas(new_rs) == want:
            return False
        if replicas(new_rs) > want:
            return self.scale_rs_and_record(new_rs, want)
        return self.scale_rs_and_record(new_rs, self.new_rs_new_replicas(all_rss, new_rs))

    def reconcile_old_replica_sets(self, all_rss: list[RS], old_rss: list[Obj], new_rs: RS) -> bool:
        if total(old_rss) == 0:
            return False
        min_available = self.d["spec"].get("replicas", 1) - max_unavailable(self.d)
        new_unavailable = replicas(new_rs) - status_of(new_rs, "availableReplicas")
        max_scaled_down = total(all_rss) - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        # Unhealthy replicas go first, or they would block the rollout (kubernetes#16737).
        cleaned = self.cleanup_unhealthy_replicas(old_rss, max_scaled_down)
        scaled = self.scale_down_old_replica_sets_for_rolling_update(old_rss + [new_rs], old_rss)
        return cleaned + scaled > 0

    def cleanup_unhealthy_replicas(self, old_rss: list[Obj], max_cleanup: int) -> int:
        done = 0
        for rs in sorted(old_rss, key=by_creation):
            if done >= max_cleanup:
                break
            size, available = replicas(rs), status_of(rs, "availableReplicas")
            if size == 0 or size == available:
                continue
            count = min(max_cleanup - done, size - available)
            self.scale_rs_and_record(rs, size - count)
            done += count
        return done

    def scale_down_old_replica_sets_for_rolling_update(self, all_rss: list[RS], old_rss: list[Obj]) -> int:
        min_available = self.d["spec"].get("replicas", 1) - max_unavailable(self.d)
        available = total(all_rss, "availableReplicas")
        if available <= min_available:
            return 0
        budget, done = available - min_available, 0
        for rs in sorted(old_rss, key=by_creation):
            if done >= budget:
                break
            if replicas(rs) == 0:
                continue
            count = min(replicas(rs), budget - done)
            self.scale_rs_and_record(rs, replicas(rs) - count)
            done += count
        return done

    # ------------------------------------------------------------ recreate.go

    def rollout_recreate(self, rs_list: list[Obj]) -> None:
        new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(rs_list, False)
        all_rss = old_rss + [new_rs]
        scaled_down = False
        for rs in active(old_rss):
            scaled_down = self.scale_rs_and_record(rs, 0) or scaled_down
        if scaled_down or self.old_pods_running(new_rs, old_rss):
            return self.sync_rollout_status(all_rss, new_rs)
        if new_rs is None:
            new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(rs_list, True)
            all_rss = old_rss + [new_rs]
        if new_rs is not None:
            self.scale_rs_and_record(new_rs, self.d["spec"].get("replicas", 1))
        if deployment_complete(self.d, self.d.get("status") or {}):
            self.cleanup(old_rss)
        return self.sync_rollout_status(all_rss, new_rs)

    def old_pods_running(self, new_rs: RS, old_rss: list[Obj]) -> bool:
        if total(old_rss, "replicas") > 0:
            return True
        old_uids = {rs["metadata"]["uid"] for rs in old_rss}
        for pod in self.store.objects("pods", self.ns):
            refs = pod["metadata"].get("ownerReferences") or []
            if any(r.get("uid") in old_uids for r in refs) and (pod.get("status") or {}).get("phase") not in (
                "Failed",
                "Succeeded",
            ):
                return True
        return False

    # ------------------------------------------------------------ status (sync.go, progress.go)

    def calculate_status(self, all_rss: list[RS], new_rs: RS) -> dict[str, Any]:
        d = self.d
        available = total(all_rss, "availableReplicas")
        counts = {
            "observedGeneration": d["metadata"].get("generation", 1),
            "replicas": total(all_rss, "replicas"),
            "updatedReplicas": total([new_rs], "replicas"),
            "readyReplicas": total(all_rss, "readyReplicas"),
            "availableReplicas": available,
            "unavailableReplicas": max(0, total(all_rss) - available),
            "collisionCount": (d.get("status") or {}).get("collisionCount", 0),
        }
        status: dict[str, Any] = {k: v for k, v in counts.items() if v}  # Go's omitempty
        conditions = [dict(c) for c in (d.get("status") or {}).get("conditions") or []]
        if conditions:
            status["conditions"] = conditions
        now = self.ctl.now()
        if available >= d["spec"].get("replicas", 1) - max_unavailable(d):
            set_condition(
                status,
                new_condition(
                    "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", now
                ),
            )
        else:
            set_condition(
                status,
                new_condition(
                    "Available",
                    "False",
                    "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability.",
                    now,
                ),
            )
        return status

    def sync_deployment_status(self, all_rss: list[RS], new_rs: RS) -> None:
        status = self.calculate_status(all_rss, new_rs)
        if status != self.d.get("status"):
            self.update_status(status)

    def sync_rollout_status(self, all_rss: list[RS], new_rs: RS) -> None:
        d = self.d
        status = self.calculate_status(all_rss, new_rs)
        if not has_progress_deadline(d):
            remove_condition(status, "Progressing")
        current = get_condition(d.get("status") or {}, "Progressing")
        complete = (
            status.get("replicas", 0) == status.get("updatedReplicas", 0)
            and current is not None
            and current.get("reason") == "NewReplicaSetAvailable"
        )
        now = self.ctl.now()
        what = f'ReplicaSet "{new_rs["metadata"]["name"]}"' if new_rs else f'Deployment "{self.name}"'
        if has_progress_deadline(d) and not complete:
            if deployment_complete(d, status):
                set_condition(
                    status,
                    new_condition(
                        "Progressing", "True", "NewReplicaSetAvailable", f"{what} has successfully progressed.", now
                    ),
                )
            elif deployment_progressing(d, status):
                cond = new_condition("Progressing", "True", "ReplicaSetUpdated", f"{what} is progressing.", now)
                if current is not None:
                    if current["status"] == "True":
                        cond["lastTransitionTime"] = current["lastTransitionTime"]
                    remove_condition(status, "Progressing")
                set_condition(status, cond)
            elif self.timed_out(status):
                set_condition(
                    status,
                    new_condition(
                        "Progressing", "False", "ProgressDeadlineExceeded", f"{what} has timed out progressing.", now
                    ),
                )
        if status != d.get("status"):
            self.update_status(status)

    def timed_out(self, status: dict[str, Any]) -> bool:
        cond = get_condition(status, "Progressing")
        if cond is None or cond.get("reason") == "NewReplicaSetAvailable":
            return False
        if cond.get("reason") == "ProgressDeadlineExceeded":
            return True
        deadline = self.d["spec"]["progressDeadlineSeconds"]
        return parse_time(cond.get("lastUpdateTime")) + deadline < self.store.clock()
