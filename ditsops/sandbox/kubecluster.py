"""The sandbox's Kubernetes API process: the in-memory API, seeded with a Dits that has run for days.

    python -m ditsops.sandbox.kubecluster --port 6443 --kubeconfig PATH [--seed-age 259200]

Like `python -m ditsops.sandbox.kubeapi --seed dits`, except that the seeded objects
(namespace dits, dits-server 1.4.2 with 3 replicas, dits-worker with 2, their ReplicaSets,
pods and events, and the hourly CronJob dits-gc, whose last run is the last top of the
hour) are dated `--seed-age` seconds ago, three days by default: the same three
days of history the simulator's counters start with. Without that, the initial deploy
would be minutes old, and a runbook asking "was there a rollout in the last hour?" (the
high-error-rate rollback's condition) would blame it for every incident in a fresh sandbox.
Everything after the seed happens on the real clock.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from ditsops.sandbox.kubeapi import KubeAPIServer

THREE_DAYS = 3 * 86400.0
LISTENING = "kubeapi listening on"  # printed once seeded; the sandbox waits for it


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ditsops.sandbox.kubecluster",
        description="The ditsops sandbox's in-memory Kubernetes API, seeded with a Dits deployed days ago.",
        epilog="Example: python -m ditsops.sandbox.kubecluster --port 6443 --kubeconfig /tmp/kubeconfig",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--kubeconfig", required=True, help="write a kubeconfig (mode 0600) pointing here")
    parser.add_argument("--context", default="sandbox")
    parser.add_argument("--namespace", default="dits")
    parser.add_argument("--ready-delay", type=float, default=1.0, help="seconds from pod creation to Ready")
    parser.add_argument("--seed-age", type=float, default=THREE_DAYS, help="how long ago the seed was deployed")
    args = parser.parse_args(argv)

    server = KubeAPIServer(args.host, args.port, ready_delay=args.ready_delay)
    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    real_clock = server.store.clock
    # Every timestamp the API and its controllers write comes from the store's clock.
    server.store.clock = lambda: real_clock() - args.seed_age
    server.start()
    try:
        server.write_kubeconfig(args.kubeconfig, context=args.context, namespace=args.namespace)
        server.seed_dits(args.namespace)
        server.store.clock = real_clock
        print(f"{LISTENING} {server.url}", flush=True)
        # Wake up now and then: a signal only runs its Python handler once the main
        # thread executes bytecode again.
        while not done.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
