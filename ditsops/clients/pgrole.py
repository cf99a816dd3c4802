"""Whether the role of a PostgreSQL session can do harm, asked of the server on connect.

SQL that did not ship with ditsops (an own runbook's inline `sql:`) is only sent on a
session whose role can do nothing a read-only transaction does not already stop. Parsing
cannot promise that (an existing function or view may call anything); privileges can:

- not a superuser, and not CREATEROLE (which could grant itself any role below);
- the session's role is the role it logged in as: a superuser session with `SET ROLE`
  (or `options=-c role=...`) can `RESET ROLE` from inside a query;
- a member of no role except the monitoring ones (pg_monitor and what it contains). That
  refuses pg_signal_backend, pg_execute_server_program, pg_read_server_files and
  pg_write_server_files by name, and also the application's role: PostgreSQL lets a role
  signal the backends of any role it has the privileges of;
- no function it may execute beyond what PUBLIC and pg_monitor may: PostgreSQL revokes
  the ones that read or write server files, reload the configuration, reset statistics or
  reach another server unchecked from PUBLIC, and a DBA may grant them one by one;
- no SECURITY DEFINER function it may execute whose owner could do harm: such a function
  (a DBA's `kill(pid)` helper) runs with its owner's privileges, whoever calls it;
- no other session logged in as this role than ditsops' own: a role may terminate the
  backends of its own role, so the diagnostics role must be ditsops' alone.
"""

from __future__ import annotations

from dataclasses import dataclass

# What pg_monitor is made of: reading statistics and settings, nothing that changes anything.
MONITORING_ROLES = frozenset({"pg_monitor", "pg_read_all_settings", "pg_read_all_stats", "pg_stat_scan_tables"})
# Named in the refusal as what they are.
DANGEROUS_ROLES = {
    "pg_signal_backend": "may terminate any session",
    "pg_execute_server_program": "may run programs on the database server",
    "pg_read_server_files": "may read files on the database server",
    "pg_write_server_files": "may write files on the database server",
}
ROLE_SQL = """
SELECT r.rolname AS role,
       session_user::text AS session_role,
       r.rolsuper OR s.rolsuper AS superuser,
       r.rolcreaterole OR s.rolcreaterole AS createrole,
       ARRAY(SELECT m.rolname::text FROM pg_catalog.pg_roles m
              WHERE m.oid <> r.oid AND pg_catalog.pg_has_role(r.oid, m.oid, 'MEMBER')
              ORDER BY 1) AS member_of,
       ARRAY(SELECT DISTINCT p.proname::text FROM pg_catalog.pg_proc p
              WHERE pg_catalog.has_function_privilege(r.oid, p.oid, 'EXECUTE')
                AND NOT pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE')
                AND NOT pg_catalog.has_function_privilege('pg_monitor', p.oid, 'EXECUTE')
              ORDER BY 1) AS functions,
       ARRAY(SELECT DISTINCT p.proname::text || ' of ' || o.rolname::text
               FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_roles o ON o.oid = p.proowner
              WHERE p.prosecdef AND o.oid <> r.oid
                AND pg_catalog.has_function_privilege(r.oid, p.oid, 'EXECUTE')
                AND (o.rolsuper OR EXISTS (
                      SELECT 1 FROM pg_catalog.pg_roles d
                       WHERE d.rolname IN ('pg_signal_backend', 'pg_execute_server_program',
                                           'pg_read_server_files', 'pg_write_server_files')
                         AND pg_catalog.pg_has_role(o.oid, d.oid, 'MEMBER')))
              ORDER BY 1) AS definers,
       ARRAY(SELECT DISTINCT coalesce(nullif(a.application_name, ''), 'no application_name')
               FROM pg_catalog.pg_stat_activity a
              WHERE a.usesysid = r.oid AND a.pid <> pg_catalog.pg_backend_pid()
                AND a.backend_type = 'client backend'
                AND a.application_name <> 'ditsops' AND a.application_name NOT LIKE 'ditsops lease %%'
              ORDER BY 1) AS others
  FROM pg_catalog.pg_roles r, pg_catalog.pg_roles s
 WHERE r.rolname = current_user AND s.rolname = session_user
"""


@dataclass(frozen=True)
class RoleCheck:
    """What the server says about the session's role; `problems` empty: it can do no harm."""

    role: str
    problems: tuple[str, ...]
    # pg_read_all_stats (in pg_monitor): without it other sessions' state and query are NULL
    # to the role, and every count by state would be wrong without a word
    sees_all_sessions: bool = True

    @property
    def harmless(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        return f"role {self.role} " + "; ".join(self.problems)


def _shown(name: object) -> str:
    """A name from the catalog as one line of plain text: role names may hold any character."""
    text = str(name)
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def judge(row: dict[str, object]) -> RoleCheck:
    """The reasons, from one row of ROLE_SQL, why this role could do harm."""
    role, session_role = _shown(row["role"]), _shown(row["session_role"])
    problems: list[str] = []
    if role != session_role:
        problems.append(f"is set on a session of {session_role}, which can set its role back from inside a query")
    if row["superuser"]:  # a member of every role and allowed every function: that says it all
        return RoleCheck(role, (*problems, "is a superuser"))
    if row["createrole"]:
        problems.append("has CREATEROLE (it could grant itself any role)")
    member_of = [_shown(m) for m in row["member_of"] or ()]  # type: ignore[attr-defined]
    sees_all = "pg_read_all_stats" in member_of
    for name in member_of:
        if name in DANGEROUS_ROLES:
            problems.append(f"is a member of {name} ({DANGEROUS_ROLES[name]})")
    others = [m for m in member_of if m not in DANGEROUS_ROLES and m not in MONITORING_ROLES]
    if others:
        problems.append(
            f"is a member of {', '.join(others)} (it may signal their sessions and act with their privileges)"
        )
    functions = [_shown(f) for f in row["functions"] or ()]  # type: ignore[attr-defined]
    if functions:
        problems.append(f"may execute {', '.join(f + '()' for f in functions)}")
    definers = [_shown(f) for f in row["definers"] or ()]  # type: ignore[attr-defined]
    if definers:
        problems.append(
            f"may execute SECURITY DEFINER functions of a privileged owner ({', '.join(definers[:3])}"
            f"{' ...' if len(definers) > 3 else ''}), which run with their owner's privileges: "
            "REVOKE EXECUTE on them FROM PUBLIC"
        )
    sessions = [_shown(a) for a in row["others"] or ()]  # type: ignore[attr-defined]
    if sessions:
        problems.append(
            f"is also used by {', '.join(sessions[:3])}{' ...' if len(sessions) > 3 else ''} "
            "(a role may terminate its own sessions: give ditsops a role of its own)"
        )
    return RoleCheck(role, tuple(problems), sees_all)
