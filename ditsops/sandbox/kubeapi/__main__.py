"""Run the in-memory Kubernetes API as a process until interrupted.

python -m ditsops.sandbox.kubeapi --port 6443 --kubeconfig /tmp/kubeconfig --seed dits
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from .server import KubeAPIServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ditsops.sandbox.kubeapi",
        description="In-memory Kubernetes API server (a practice and test double).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on start)")
    parser.add_argument("--kubeconfig", help="write a kubeconfig pointing at this server here")
    parser.add_argument("--context", default="sandbox")
    parser.add_argument("--namespace", default="dits", help="the kubeconfig context's namespace")
    parser.add_argument("--token", help="require this bearer token (kubectl sends none over plain http)")
    parser.add_argument("--seed", choices=["dits"], help="create the Dits deployments and wait until available")
    parser.add_argument("--ready-delay", type=float, default=1.0, help="seconds from pod creation to Ready")
    parser.add_argument("--crash-interval", type=float, default=2.0, help="seconds per crash-loop restart")
    parser.add_argument("--verbose", "-v", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(asctime)s %(name)s %(message)s"
    )

    server = KubeAPIServer(
        args.host, args.port, ready_delay=args.ready_delay, token=args.token, crash_interval=args.crash_interval
    )
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    server.start()
    try:
        if args.kubeconfig:
            server.write_kubeconfig(args.kubeconfig, context=args.context, namespace=args.namespace)
        if args.seed == "dits":
            server.seed_dits(args.namespace)
        print(f"kubeapi listening on {server.url}", flush=True)
        done.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
