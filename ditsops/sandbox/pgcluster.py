"""A throwaway PostgreSQL cluster on 127.0.0.1, for the sandbox and the test suite.

Layout of one cluster, all inside a fresh `ditsops-pg-*` directory:

    ditsops-pg-XXXX/data/          the data directory (initdb)
    ditsops-pg-XXXX/socket/        unix socket directory
    ditsops-pg-XXXX/postgres.log   server log

initdb refuses to run as root, so as root every server binary runs through
`runuser -u postgres --` and the directory is handed to the postgres user. That is why the
default parent is the system temp dir: postgres cannot traverse /root.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ditsops.base.errors import DitsopsError, TargetUnreachable
from ditsops.sandbox.ports import free_port, wait_for_port
from ditsops.sandbox.state import kill_now, process_alive, wait_for_exit

PG_INSTALL_HINT = "apt-get install postgresql"
CLUSTER_DIR_PREFIX = "ditsops-pg-"
# sun_path is 108 bytes on Linux; the socket file name adds ".s.PGSQL.NNNNN".
_MAX_SOCKET_PATH = 107
# Matches log_line_prefix '%m [%p] %a ' so error messages keep only what was said.
_LOG_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d [\d:.]+ \S+ \[\d+\] \S*\s*", re.MULTILINE)


def candidate_bin_dirs() -> list[Path]:
    """Where server binaries may live: /usr/lib/postgresql/*/bin newest first, then PATH."""

    def version(path: Path) -> float:
        try:
            return float(path.parent.name)
        except ValueError:
            return 0.0

    directories = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        directories.append(Path(on_path).resolve().parent)
    return directories


def find_pg_bin() -> Path:
    """The directory holding initdb and pg_ctl."""
    for directory in candidate_bin_dirs():
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    raise DitsopsError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin "
        f"or PATH; install them with: {PG_INSTALL_HINT}"
    )


@dataclass(frozen=True)
class PgCluster:
    data_dir: Path
    port: int
    password: str = field(repr=False)
    socket_dir: Path
    bin_dir: Path
    host: str = "127.0.0.1"
    user: str = "postgres"

    @property
    def root_dir(self) -> Path:
        return self.data_dir.parent

    @property
    def log_file(self) -> Path:
        return self.root_dir / "postgres.log"

    @property
    def cmdline_marker(self) -> str:
        """Part of the postmaster's command line (`postgres -D DATA_DIR`): tells our
        server apart from whatever process reuses its pid later."""
        return str(self.data_dir)

    @property
    def dsn(self) -> str:
        password = quote(self.password, safe="")
        return f"postgresql://{self.user}:{password}@{self.host}:{self.port}/postgres"

    @property
    def masked_dsn(self) -> str:
        """The DSN as shown to people: the password replaced by ***."""
        return f"postgresql://{self.user}:***@{self.host}:{self.port}/postgres"

    def admin(self, database: str = "postgres") -> Any:
        """A superuser session (autocommit) for the sandbox's own setup and faults: the one
        place the sandbox opens PostgreSQL outside the simulated server and its load, which
        play the application and so use the driver as the application would. A refused
        connection is one line naming the server, never the password."""
        import psycopg

        try:
            dsn = self.dsn.rsplit("/", 1)[0] + "/" + quote(database, safe="")
            return psycopg.connect(dsn, application_name="ditsops", autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            message = " ".join(str(exc).split()) or type(exc).__name__  # one line
            raise TargetUnreachable(
                f"cannot connect to the sandbox PostgreSQL at {self.masked_dsn}: {message}"
            ) from None

    def pid(self) -> int | None:
        """The postmaster's pid from postmaster.pid, or None when it is not there."""
        try:
            first_line = (self.data_dir / "postmaster.pid").read_text().splitlines()[0]
            return int(first_line.strip())
        except (OSError, IndexError, ValueError):
            return None

    def is_running(self) -> bool:
        return process_alive(self.pid(), self.cmdline_marker)

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and wait until it accepts TCP connections."""
        if self.is_running():
            return
        _run_server_binary(
            [
                str(self.bin_dir / "pg_ctl"),
                "start",
                "--silent",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                str(max(1, int(timeout))),
            ],
            what="pg_ctl start",
            cwd=self.root_dir,
            log_file=self.log_file,
        )
        if not wait_for_port(self.port, self.host, timeout):
            raise DitsopsError(
                f"PostgreSQL started but does not accept connections on {self.host}:{self.port}: "
                + _log_tail(self.log_file)
            )

    def stop(self, timeout: float = 15.0) -> None:
        """Fast shutdown, then immediate, then SIGKILL: never leaves a postgres process."""
        pid = self.pid()
        if not process_alive(pid, self.cmdline_marker):
            return
        assert pid is not None
        for mode, wait in (("fast", timeout), ("immediate", 5.0)):
            try:
                _run_server_binary(
                    [
                        str(self.bin_dir / "pg_ctl"),
                        "stop",
                        "--silent",
                        "-D",
                        str(self.data_dir),
                        "-m",
                        mode,
                        "-w",
                        "-t",
                        str(max(1, int(wait))),
                    ],
                    what=f"pg_ctl stop -m {mode}",
                    cwd=self.root_dir,
                    log_file=self.log_file,
                )
            except DitsopsError:
                pass
            if wait_for_exit(pid, 1.0):
                return
        # The postmaster leads its own process group (pg_ctl calls setsid), so this takes
        # the backends with it.
        kill_now(pid, whole_group=True)

    def destroy(self) -> None:
        """Stop the server and remove its directory (data, socket and log)."""
        self.stop()
        root = self.root_dir
        # The paths may come from a state file: only ever delete a directory we created.
        if not root.name.startswith(CLUSTER_DIR_PREFIX):
            raise DitsopsError(f"refusing to remove {root}: not a ditsops cluster directory")
        shutil.rmtree(root, ignore_errors=True)
        if root.exists():
            raise DitsopsError(f"could not remove the cluster directory {root}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "data_dir": str(self.data_dir),
            "port": self.port,
            "host": self.host,
            "user": self.user,
            "password": self.password,
            "socket_dir": str(self.socket_dir),
            "bin_dir": str(self.bin_dir),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PgCluster:
        try:
            return cls(
                data_dir=Path(data["data_dir"]),
                port=int(data["port"]),
                host=str(data.get("host", "127.0.0.1")),
                user=str(data.get("user", "postgres")),
                password=str(data["password"]),
                socket_dir=Path(data["socket_dir"]),
                bin_dir=Path(data["bin_dir"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DitsopsError(f"invalid PostgreSQL cluster record: missing or bad {exc}") from exc


def create_cluster(
    base_dir: Path | None = None,
    *,
    port: int | None = None,
    max_connections: int = 50,
    superuser_reserved: int = 3,
    password: str | None = None,
    bin_dir: Path | None = None,
) -> PgCluster:
    """initdb a new cluster in a fresh directory under `base_dir` (default: system temp).

    TCP and socket logins both require the password (scram-sha-256). The cluster is
    configured but not started.
    """
    bin_dir = bin_dir or find_pg_bin()
    parent = Path(base_dir).resolve() if base_dir else Path(tempfile.gettempdir()).resolve()
    parent.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix=CLUSTER_DIR_PREFIX, dir=parent))
    try:
        cluster = PgCluster(
            data_dir=root / "data",
            port=port or free_port(),
            password=password or secrets.token_urlsafe(24),
            socket_dir=root / "socket",
            bin_dir=bin_dir,
        )
        socket_file = cluster.socket_dir / f".s.PGSQL.{cluster.port}"
        if len(str(socket_file)) > _MAX_SOCKET_PATH:
            raise DitsopsError(
                f"the cluster directory {root} is too deep for a unix socket path; "
                "use a shorter base directory (e.g. set TMPDIR=/tmp)"
            )
        cluster.socket_dir.mkdir(mode=0o700)
        owner = _server_owner()
        if owner is not None:
            for path in (root, cluster.socket_dir):
                os.chown(path, owner.pw_uid, owner.pw_gid)
            _check_owner_can_reach(root)
        password_file = root / "pwfile"
        password_file.write_text(cluster.password + "\n")
        password_file.chmod(0o600)
        if owner is not None:
            os.chown(password_file, owner.pw_uid, owner.pw_gid)
        try:
            _run_server_binary(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(cluster.data_dir),
                    "-U",
                    cluster.user,
                    f"--pwfile={password_file}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",  # a throwaway cluster needs no durability
                ],
                what="initdb",
                cwd=root,
            )
        finally:
            password_file.unlink(missing_ok=True)
        _write_settings(cluster, max_connections, superuser_reserved)
        return cluster
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def _write_settings(cluster: PgCluster, max_connections: int, superuser_reserved: int) -> None:
    socket_dir = str(cluster.socket_dir).replace("'", "''")
    settings = f"""
# Added by ditsops: a throwaway cluster, loopback only, durability off (it is deleted after use).
listen_addresses = '{cluster.host}'
port = {cluster.port}
unix_socket_directories = '{socket_dir}'
max_connections = {max_connections}
superuser_reserved_connections = {superuser_reserved}
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = '16MB'
log_line_prefix = '%m [%p] %a '
"""
    with (cluster.data_dir / "postgresql.conf").open("a", encoding="utf-8") as handle:
        handle.write(settings)


def _server_owner() -> pwd.struct_passwd | None:
    """The user the server binaries must run as: postgres when we are root, else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError as exc:
        raise DitsopsError(
            "running as root needs a 'postgres' system user to own the cluster "
            f"(initdb refuses root); {PG_INSTALL_HINT} creates it"
        ) from exc


def _as_server_owner(command: list[str]) -> list[str]:
    if _server_owner() is None:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def _check_owner_can_reach(directory: Path) -> None:
    probe = subprocess.run(_as_server_owner(["test", "-w", str(directory)]), capture_output=True, cwd="/")
    if probe.returncode != 0:
        raise DitsopsError(
            f"the postgres user cannot reach {directory}; choose a base directory outside /root (e.g. set TMPDIR=/tmp)"
        )


def _run_server_binary(command: list[str], *, what: str, cwd: Path, log_file: Path | None = None) -> None:
    """Run initdb/pg_ctl (as postgres when root); a failure becomes a one-line DitsopsError."""
    try:
        completed = subprocess.run(
            _as_server_owner(command),
            cwd=cwd,  # postgres may not be able to read our own cwd (e.g. /root)
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        raise DitsopsError(f"{what} could not run: {exc}", hint=f"install the server: {PG_INSTALL_HINT}") from exc
    if completed.returncode != 0:
        # The server log says why (pg_ctl itself only says "Examine the log output").
        server_says = _log_tail(log_file) if log_file is not None else ""
        reason = server_says or _tail(completed.stderr + completed.stdout) or "no output"
        where = f" (log: {log_file})" if server_says else ""
        raise DitsopsError(f"{what} failed (exit {completed.returncode}): {reason}{where}")


def _log_tail(path: Path, lines: int = 3) -> str:
    """The last server log lines that say what went wrong (else simply the last lines)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    telling = [
        line for line in text.splitlines() if any(word in line for word in ("FATAL", "PANIC", "ERROR", "could not"))
    ]
    tail = _tail("\n".join(telling) if telling else text, lines)
    return _LOG_PREFIX.sub("", tail.replace(" | ", "\n")).replace("\n", " | ")


def _tail(text: str, lines: int = 3) -> str:
    meaningful = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(meaningful[-lines:])
