"""The store's schema: versioned, append-only, its hash chain enforced by the database.

Everything lives in one PostgreSQL schema, `ditsops`, so the store can share a database
the team already runs. The engineers' role gets INSERT and SELECT, never UPDATE or DELETE
(`grants`); besides, a trigger refuses UPDATE, DELETE and TRUNCATE on every table for
whoever tries, the owner included, so a change needs a superuser who switches the
triggers off first, and `runbook verify` catches what such a change leaves.

Tables (current state is always a query over them, never an UPDATE):
  schema_version   one row per schema version applied
  incidents        id, alert, fingerprints, labels, opened, opened_by
  incident_events  incident, seq, time, kind (join, handoff, note, close, reopen), who, body
  runs             id, runbook, who, profile, started, parent run, incident (nullable)
  events           run, seq, time, kind, body (JSONB), line (the exact text), prev, hash

runs and events also say when and by which login each row arrived (`stored`,
`stored_by`): set by a trigger, so an engineer can write `who` but not `stored_by`.

An event's hash is the SHA-256 of its line, exactly as in the local record; the trigger
refuses an event whose hash is not that, whose seq is not its run's last + 1, or whose
prev is not the hash of its run's last event (the first: of the run's genesis string).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ditsops.base.errors import DitsopsError, UsageError

SCHEMA = "ditsops"
VERSION = 1  # the schema this ditsops writes and reads
DEFAULT_ROLE = "ditsops_engineers"
_ROLE = re.compile(r"[a-z_][a-z0-9_]{0,62}\Z")
_INIT_LOCK = 0x646974736F707301  # pg_advisory_xact_lock key: two inits at once run one after the other

TABLES = ("schema_version", "incidents", "incident_events", "runs", "events")


def _ddl() -> str:
    """The schema's DDL (built when a store is initialized: the listings that only need the
    names above do not import the run record module for its genesis string)."""
    from ditsops.core.record import GENESIS

    return f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};

CREATE TABLE {SCHEMA}.schema_version (
    version integer PRIMARY KEY,
    applied timestamptz NOT NULL DEFAULT now(),
    applied_by text NOT NULL DEFAULT current_user
);

CREATE TABLE {SCHEMA}.incidents (
    id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 200),
    alert text NOT NULL,
    fingerprints text[] NOT NULL DEFAULT '{{}}',
    labels jsonb NOT NULL DEFAULT '{{}}',
    opened timestamptz NOT NULL DEFAULT now(),
    opened_by text NOT NULL
);

CREATE TABLE {SCHEMA}.incident_events (
    incident text NOT NULL REFERENCES {SCHEMA}.incidents (id),
    seq integer NOT NULL CHECK (seq >= 1),
    time timestamptz NOT NULL DEFAULT now(),
    kind text NOT NULL CHECK (kind IN ('join', 'handoff', 'note', 'close', 'reopen')),
    who text NOT NULL,
    body jsonb NOT NULL DEFAULT '{{}}',
    PRIMARY KEY (incident, seq)
);

CREATE TABLE {SCHEMA}.runs (
    id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 200),
    runbook text NOT NULL,
    who text NOT NULL,
    profile text,
    started timestamptz NOT NULL,
    parent text REFERENCES {SCHEMA}.runs (id),
    incident text REFERENCES {SCHEMA}.incidents (id),
    stored timestamptz NOT NULL DEFAULT now(),
    stored_by text NOT NULL DEFAULT session_user
);
CREATE INDEX runs_incident ON {SCHEMA}.runs (incident) WHERE incident IS NOT NULL;
CREATE INDEX runs_started ON {SCHEMA}.runs (started);

CREATE TABLE {SCHEMA}.events (
    run text NOT NULL REFERENCES {SCHEMA}.runs (id),
    seq integer NOT NULL CHECK (seq >= 1),
    time timestamptz NOT NULL,
    kind text NOT NULL,
    body jsonb NOT NULL,
    line text NOT NULL,
    prev text NOT NULL,
    hash text NOT NULL,
    stored timestamptz NOT NULL DEFAULT now(),
    stored_by text NOT NULL DEFAULT session_user,
    PRIMARY KEY (run, seq)
);

-- When and by which login a row arrived is the database's to say, not the inserter's.
CREATE FUNCTION {SCHEMA}.stamp() RETURNS trigger LANGUAGE plpgsql AS $stamp$
BEGIN
    NEW.stored := now();
    NEW.stored_by := session_user;
    RETURN NEW;
END
$stamp$;
CREATE TRIGGER runs_stamp BEFORE INSERT ON {SCHEMA}.runs
    FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.stamp();
CREATE TRIGGER events_stamp BEFORE INSERT ON {SCHEMA}.events
    FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.stamp();

-- The chain continues in the store: an event must follow its run's last one.
CREATE FUNCTION {SCHEMA}.events_chain() RETURNS trigger LANGUAGE plpgsql AS $chain$
DECLARE
    last_seq integer;
    last_hash text;
BEGIN
    -- one run's events are checked one at a time (a writer and a sync may race)
    PERFORM pg_advisory_xact_lock(hashtextextended('ditsops.events:' || NEW.run, 0));
    IF EXISTS (SELECT 1 FROM {SCHEMA}.events WHERE run = NEW.run AND seq = NEW.seq) THEN
        RETURN NEW;  -- a replay: ON CONFLICT DO NOTHING drops it, a plain INSERT fails on the key
    END IF;
    IF NEW.hash IS DISTINCT FROM encode(sha256(convert_to(NEW.line, 'UTF8')), 'hex') THEN
        RAISE EXCEPTION 'event % of run % refused: its hash is not the SHA-256 of its line', NEW.seq, NEW.run;
    END IF;
    SELECT seq, hash INTO last_seq, last_hash FROM {SCHEMA}.events
        WHERE run = NEW.run ORDER BY seq DESC LIMIT 1;
    IF last_seq IS NULL THEN
        last_seq := 0;
        last_hash := encode(sha256(convert_to('{GENESIS}' || NEW.run, 'UTF8')), 'hex');
    END IF;
    IF NEW.seq <> last_seq + 1 THEN
        RAISE EXCEPTION 'event % of run % refused: the store holds % events of it (next: %)',
            NEW.seq, NEW.run, last_seq, last_seq + 1;
    END IF;
    IF NEW.prev IS DISTINCT FROM last_hash THEN
        RAISE EXCEPTION 'event % of run % refused: its prev is not the hash of event %', NEW.seq, NEW.run, last_seq;
    END IF;
    -- what can be derived from the line is, so the columns cannot tell another story
    BEGIN
        NEW.body := replace(NEW.line, '\\u0000', '\\ufffd')::jsonb;
    EXCEPTION WHEN invalid_text_representation OR untranslatable_character THEN
        NULL;  -- NaN or Infinity in the line (JSON has neither): the writer's body, with them as strings
    END;
    NEW.kind := coalesce(NEW.body ->> 'event', '?');
    NEW.time := coalesce((NEW.body ->> 'ts')::timestamptz, now());
    RETURN NEW;
END
$chain$;
CREATE TRIGGER events_chain BEFORE INSERT ON {SCHEMA}.events
    FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.events_chain();

-- Append-only for everyone, the owner included.
CREATE FUNCTION {SCHEMA}.append_only() RETURNS trigger LANGUAGE plpgsql AS $append$
BEGIN
    RAISE EXCEPTION 'the ditsops store is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
END
$append$;
"""


_APPEND_ONLY = """
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {schema}.{table}
    FOR EACH ROW EXECUTE FUNCTION {schema}.append_only();
CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {schema}.{table}
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.append_only();
"""


class StoreSchemaError(DitsopsError):
    """The store's schema is missing, or newer than this ditsops."""


@dataclass(frozen=True)
class InitReport:
    version: int
    created: bool  # False: the schema was already there, nothing changed


def check_role(role: str) -> str:
    if not _ROLE.match(role):
        raise UsageError(
            f"--role {role!r}: a role name is lowercase letters, digits and _, at most 63, not starting with a digit"
        )
    return role


def grants(role: str, database: str) -> list[str]:
    """What a DBA runs so that `role` may add and read records, never change them."""
    role = check_role(role)
    database_name = '"' + database.replace('"', '""') + '"'
    return [
        f"CREATE ROLE {role} NOLOGIN;",
        f"GRANT CONNECT ON DATABASE {database_name} TO {role};",
        f"GRANT USAGE ON SCHEMA {SCHEMA} TO {role};",
        f"GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA {SCHEMA} TO {role};",
        f"-- each engineer: CREATE ROLE alice LOGIN PASSWORD '...' IN ROLE {role};",
    ]


def schema_version(conn: Any) -> int | None:
    """The store's schema version, or None when `store init` never ran there."""
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{SCHEMA}.schema_version",)).fetchone()
    if not row or row[0] not in (True, "t"):  # "t": a reader's session (store/reader.py) reads text
        return None
    found = conn.execute(f"SELECT max(version) FROM {SCHEMA}.schema_version").fetchone()
    return int(found[0]) if found and found[0] is not None else None


def require_known(version: int | None) -> int:
    """The version, if this ditsops can read and write it."""
    if version is None:
        raise StoreSchemaError("the record store has no ditsops schema", hint="ditsops store init")
    if version > VERSION:
        raise StoreSchemaError(
            f"the record store's schema is version {version}, newer than this ditsops knows ({VERSION})",
            hint="upgrade ditsops; nothing was changed",
        )
    return version


def init_schema(conn: Any) -> InitReport:
    """Create the schema, once: a second init finds it and changes nothing; a newer one is refused."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_INIT_LOCK,))
        found = schema_version(conn)
        if found is not None:
            return InitReport(require_known(found), created=False)
        conn.execute(_ddl())
        for table in TABLES:
            conn.execute(_APPEND_ONLY.format(schema=SCHEMA, table=table))
        conn.execute(f"INSERT INTO {SCHEMA}.schema_version (version) VALUES (%s)", (VERSION,))
    return InitReport(VERSION, created=True)
