"""The deployment controller, a transcription of ``pkg/controller/deployment`` (sync.go,
rolling.go, recreate.go, progress.go and util/deployment_util.go) to dicts.

Function names follow the Go ones so the two can be read side by side. Differences: it
runs inside one store lock per pass, so it never hits its own 409s; pod-template hashes
are computed from JSON rather than a spew dump; the deprecated rollbackTo is not served.
"""

from __future__ import annotations

import copy
from typing import Any

from . import strategy
from .deployment_util import (
    DESIRED,
    MAX_REPLICAS,
    MAX_REV_HISTORY_CHARS,
    REVISION,
    REVISION_HISTORY,
    RS,
    SKIP_ANNOTATIONS,
    active,
    annotation_int,
    by_creation,
    by_size_newer,
    by_size_older,
    find_new_replica_set,
    get_condition,
    has_progress_deadline,
    is_rolling,
    max_surge,
    new_condition,
    replicas,
    revision,
    round_half_away,
    scaled_value,
    set_condition,
    set_replicas_annotations,
    status_of,
    total,
)
from .errors import ApiError
from .events import EventRecorder
from .replicaset import controller_uid
from .rollout import RolloutMixin
from .selectors import from_label_selector_object
from .store import Obj, Store

COMPONENT = "deployment-controller"


# ------------------------------------------------------------------ the controller


class DeploymentController:
    def __init__(self, store: Store, recorder: EventRecorder) -> None:
        self.store, self.recorder = store, recorder

    def sync_all(self) -> None:
        for d in self.store.objects("deployments"):
            try:
                _Sync(self, copy.deepcopy(d)).run()
            except ApiError:
                continue  # the real controller requeues; the next pass retries

    def now(self) -> str:
        return strategy.rfc3339(self.store.clock())


class _Sync(RolloutMixin):
    """One syncDeployment call; ``self.d`` is refreshed after every write to it."""

    def __init__(self, ctl: DeploymentController, d: Obj) -> None:
        self.ctl, self.store, self.d = ctl, ctl.store, d
        self.ns, self.name = d["metadata"]["namespace"], d["metadata"]["name"]

    # --------------------------------------------------------- writes

    def update_status(self, status: dict[str, Any] | None = None) -> None:
        if status is not None:
            self.d["status"] = status
        self.d = copy.deepcopy(self.store.update("deployments", self.d, self.ns, subresource="status"))

    def update_rs(self, rs: Obj) -> Obj:
        stored = copy.deepcopy(self.store.update("replicasets", rs, self.ns))
        rs.clear()
        rs.update(stored)
        return rs

    def event(self, reason: str, message: str) -> None:
        self.ctl.recorder.record(self.d, "Normal", reason, message, COMPONENT)

    # --------------------------------------------------------- syncDeployment

    def run(self) -> None:
        d = self.d
        if d["spec"].get("selector") == {}:
            return
        rs_list = self.replica_sets()
        self.check_paused_conditions()
        if self.d["spec"].get("paused"):
            return self.sync(rs_list)
        if self.is_scaling_event(rs_list):
            return self.sync(rs_list)
        if is_rolling(self.d):
            return self.rollout_rolling(rs_list)
        return self.rollout_recreate(rs_list)

    def replica_sets(self) -> list[Obj]:
        """Owned ReplicaSets; orphans matching the selector are adopted, as upstream."""
        uid = self.d["metadata"]["uid"]
        selector = from_label_selector_object(self.d["spec"].get("selector"))
        owned = []
        for rs in self.store.objects("replicasets", self.ns):
            owner = controller_uid(rs)
            if owner == uid:
                owned.append(copy.deepcopy(rs))
            elif owner is None and selector.matches(rs["metadata"].get("labels")):
                rs = copy.deepcopy(rs)
                rs["metadata"].setdefault("ownerReferences", []).append(
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": self.name,
                        "uid": uid,
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                )
                owned.append(self.update_rs(rs))
        return owned

    def check_paused_conditions(self) -> None:
        status = self.d.setdefault("status", {})
        cond = get_condition(status, "Progressing")
        if cond and cond.get("reason") == "ProgressDeadlineExceeded":
            return
        paused_cond = cond is not None and cond.get("reason") == "DeploymentPaused"
        if self.d["spec"].get("paused") and not paused_cond:
            set_condition(
                status,
                new_condition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", self.ctl.now()),
            )
        elif not self.d["spec"].get("paused") and paused_cond:
            set_condition(
                status,
                new_condition("Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed", self.ctl.now()),
            )
        else:
            return
        self.update_status()

    def is_scaling_event(self, rs_list: list[Obj]) -> bool:
        new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(rs_list, False)
        for rs in active(old_rss + [new_rs]):
            desired = annotation_int(rs, DESIRED)
            if desired is not None and desired != self.d["spec"].get("replicas", 1):
                return True
        return False

    # --------------------------------------------------------- sync.go

    def get_all_replica_sets_and_sync_revision(self, rs_list: list[Obj], create: bool) -> tuple[RS, list[Obj]]:
        new_rs = find_new_replica_set(self.d, rs_list)
        old_rss = [rs for rs in rs_list if new_rs is None or rs["metadata"]["uid"] != new_rs["metadata"]["uid"]]
        return self.get_new_replica_set(rs_list, old_rss, create), old_rss

    def set_new_rs_annotations(self, rs: Obj, new_revision: str, exists: bool) -> bool:
        annotations = rs["metadata"].setdefault("annotations", {})
        changed = False
        for key, value in (self.d["metadata"].get("annotations") or {}).items():
            if key in SKIP_ANNOTATIONS or annotations.get(key) == value:
                continue
            annotations[key] = value
            changed = True
        old_revision = annotations.get(REVISION)
        try:
            old_int = int(old_revision) if old_revision is not None else 0
        except ValueError:
            return False
        if old_int < int(new_revision):
            annotations[REVISION] = new_revision
            changed = True
            if old_revision is not None:  # reusing an old ReplicaSet: remember its revisions
                history = annotations.get(REVISION_HISTORY, "")
                parts = history.split(",") if history else []
                total_len = len(history) + len(old_revision) + 1
                while parts and total_len > MAX_REV_HISTORY_CHARS:
                    total_len -= len(parts.pop(0)) + 1
                if total_len <= MAX_REV_HISTORY_CHARS:
                    annotations[REVISION_HISTORY] = ",".join(parts + [old_revision])
        if not exists and set_replicas_annotations(
            rs, self.d["spec"].get("replicas", 1), self.d["spec"].get("replicas", 1) + max_surge(self.d)
        ):
            changed = True
        return changed

    def set_deployment_revision(self, value: str) -> bool:
        annotations = self.d["metadata"].setdefault("annotations", {})
        if annotations.get(REVISION) == value:
            return False
        annotations[REVISION] = value
        return True

    def get_new_replica_set(self, rs_list: list[Obj], old_rss: list[Obj], create: bool) -> RS:
        existing = find_new_replica_set(self.d, rs_list)
        new_revision = str(max([revision(rs) for rs in old_rss], default=0) + 1)
        status = self.d.setdefault("status", {})
        if existing is not None:
            min_ready = self.d["spec"].get("minReadySeconds", 0)
            annotations_updated = self.set_new_rs_annotations(existing, new_revision, True)
            if annotations_updated or existing["spec"].get("minReadySeconds", 0) != min_ready:
                if min_ready:
                    existing["spec"]["minReadySeconds"] = min_ready
                else:
                    existing["spec"].pop("minReadySeconds", None)
                return self.update_rs(existing)
            needs_update = self.set_deployment_revision(existing["metadata"]["annotations"].get(REVISION, ""))
            if has_progress_deadline(self.d) and get_condition(status, "Progressing") is None:
                set_condition(
                    status,
                    new_condition(
                        "Progressing",
                        "True",
                        "FoundNewReplicaSet",
                        f'Found new replica set "{existing["metadata"]["name"]}"',
                        self.ctl.now(),
                    ),
                )
                needs_update = True
            if needs_update:
                self.update_status()
            return existing
        if not create:
            return None
        template = copy.deepcopy(self.d["spec"]["template"])
        pod_hash = strategy.template_hash(template, status.get("collisionCount"))
        template.setdefault("metadata", {}).setdefault("labels", {})[strategy.HASH_LABEL] = pod_hash
        selector = copy.deepcopy(self.d["spec"]["selector"])
        selector.setdefault("matchLabels", {})[strategy.HASH_LABEL] = pod_hash
        new_rs: Obj = {
            "metadata": {
                "name": f"{self.name}-{pod_hash}",
                "namespace": self.ns,
                "labels": dict(template["metadata"]["labels"]),
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": self.name,
                        "uid": self.d["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {"replicas": 0, "selector": selector, "template": template},
        }
        if self.d["spec"].get("minReadySeconds"):
            new_rs["spec"]["minReadySeconds"] = self.d["spec"]["minReadySeconds"]
        new_rs["spec"]["replicas"] = self.new_rs_new_replicas(old_rss + [new_rs], new_rs)
        self.set_new_rs_annotations(new_rs, new_revision, False)
        try:
            created = copy.deepcopy(self.store.create("replicasets", new_rs, self.ns))
        except ApiError as exc:
            if exc.reason != "AlreadyExists":
                raise
            clash = self.store.get("replicasets", self.ns, new_rs["metadata"]["name"])
            if controller_uid(clash) == self.d["metadata"]["uid"] and strategy.templates_equal_ignoring_hash(
                clash["spec"]["template"], self.d["spec"]["template"]
            ):
                return copy.deepcopy(clash)
            status["collisionCount"] = status.get("collisionCount", 0) + 1  # a hash collision: retry
            self.update_status()
            raise
        if created["spec"]["replicas"] > 0:
            self.event(
                "ScalingReplicaSet",
                f"Scaled up replica set {created['metadata']['name']} from 0 to {created['spec']['replicas']}",
            )
        needs_update = self.set_deployment_revision(new_revision)
        if has_progress_deadline(self.d):
            set_condition(
                status,
                new_condition(
                    "Progressing",
                    "True",
                    "NewReplicaSetCreated",
                    f'Created new replica set "{created["metadata"]["name"]}"',
                    self.ctl.now(),
                ),
            )
            needs_update = True
        if needs_update:
            self.update_status()
        return created

    def new_rs_new_replicas(self, all_rss: list[RS], new_rs: Obj) -> int:
        want = self.d["spec"].get("replicas", 1)
        if not is_rolling(self.d):
            return want
        surge = scaled_value(
            ((self.d["spec"].get("strategy") or {}).get("rollingUpdate") or {}).get("maxSurge", 0), want, True
        )
        current = total(all_rss)
        max_total = want + surge
        if current >= max_total:
            return replicas(new_rs)
        return replicas(new_rs) + min(max_total - current, want - replicas(new_rs))

    def sync(self, rs_list: list[Obj]) -> None:
        new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(rs_list, False)
        self.scale(new_rs, old_rss)
        if self.d["spec"].get("paused"):
            self.cleanup(old_rss)
        self.sync_deployment_status(old_rss + [new_rs], new_rs)

    def scale(self, new_rs: RS, old_rss: list[Obj]) -> None:
        want = self.d["spec"].get("replicas", 1)
        newest_first = sorted(old_rss, key=by_creation, reverse=True)
        live = active(newest_first + [new_rs])
        if not live and (new_rs or newest_first):
            target = new_rs or newest_first[0]
        elif len(live) == 1:
            target = live[0]
        else:
            target = None
        if target is not None:
            if replicas(target) != want:
                self.scale_rs_and_record(target, want)
            return
        if (
            new_rs
            and replicas(new_rs) == want
            and annotation_int(new_rs, DESIRED) == want
            and status_of(new_rs, "availableReplicas") == want
        ):  # IsSaturated
            for old in active(old_rss):
                self.scale_rs_and_record(old, 0)
            return
        if not is_rolling(self.d):
            return
        all_rss = active(old_rss + [new_rs])
        allowed = want + max_surge(self.d) if want > 0 else 0
        to_add = allowed - total(all_rss)
        operation = ""
        if to_add > 0:
            all_rss, operation = by_size_newer(all_rss), "up"
        elif to_add < 0:
            all_rss, operation = by_size_older(all_rss), "down"
        added, sizes = 0, {}
        for rs in all_rss:
            if to_add:
                share = self.proportion(rs, to_add, added)
                sizes[rs["metadata"]["name"]] = replicas(rs) + share
                added += share
            else:
                sizes[rs["metadata"]["name"]] = replicas(rs)
        for i, rs in enumerate(all_rss):
            name = rs["metadata"]["name"]
            if i == 0 and to_add:
                sizes[name] = max(0, sizes[name] + to_add - added)
            self.scale_rs(rs, sizes[name], operation)

    def proportion(self, rs: Obj, to_add: int, added: int) -> int:
        if replicas(rs) == 0 or to_add == 0 or to_add == added:
            return 0
        want = self.d["spec"].get("replicas", 1)
        if want == 0:
            fraction = -replicas(rs)
        else:
            before = annotation_int(rs, MAX_REPLICAS) or (self.d.get("status") or {}).get("replicas", 0)
            if not before:
                return 0
            fraction = round_half_away(replicas(rs) * (want + max_surge(self.d)) / before) - replicas(rs)
        allowed = to_add - added
        return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)

    def scale_rs_and_record(self, rs: Obj, new_scale: int) -> bool:
        if replicas(rs) == new_scale:
            return False
        return self.scale_rs(rs, new_scale, "up" if replicas(rs) < new_scale else "down")

    def scale_rs(self, rs: Obj, new_scale: int, operation: str) -> bool:
        want = self.d["spec"].get("replicas", 1)
        size_changed = replicas(rs) != new_scale
        probe = copy.deepcopy(rs)
        annotations_changed = set_replicas_annotations(probe, want, want + max_surge(self.d))
        if not (size_changed or annotations_changed):
            return False
        old_scale = replicas(rs)
        probe["spec"]["replicas"] = new_scale
        self.update_rs_from(rs, probe)
        if size_changed:
            self.event(
                "ScalingReplicaSet",
                f"Scaled {operation} replica set {rs['metadata']['name']} from {old_scale} to {new_scale}",
            )
        return size_changed

    def update_rs_from(self, rs: Obj, changed: Obj) -> None:
        rs.clear()
        rs.update(changed)
        self.update_rs(rs)

    def cleanup(self, old_rss: list[Obj]) -> None:
        limit = self.d["spec"].get("revisionHistoryLimit")
        if limit is None:
            return
        diff = len(old_rss) - limit
        if diff <= 0:
            return
        for rs in sorted(old_rss, key=lambda r: (revision(r), by_creation(r)))[:diff]:
            st = rs.get("status") or {}
            if (
                st.get("replicas", 0)
                or replicas(rs)
                or rs["metadata"].get("generation", 1) > st.get("observedGeneration", 0)
            ):
                continue
            try:
                self.store.delete("replicasets", self.ns, rs["metadata"]["name"])
            except ApiError:
                pass
