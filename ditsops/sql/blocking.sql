-- Sessions waiting on a lock, with the pids blocking them, plus every blocker.
-- pg_blocking_pids is only called for sessions whose wait_event_type is 'Lock': it is
-- costly and meaningless for the others. Unlike pg_locks self-joins it reports every
-- blocker, including sessions ahead in the lock queue.
WITH waiting AS (
    SELECT pid, pg_blocking_pids(pid) AS blocked_by
    FROM pg_stat_activity
    WHERE wait_event_type = 'Lock'
), involved AS (
    SELECT pid FROM waiting
    UNION
    SELECT unnest(blocked_by) FROM waiting
)
SELECT
    a.pid,
    a.backend_start,
    a.datname                                   AS database,
    a.usename                                   AS "user",
    a.application_name                          AS application,
    host(a.client_addr)                         AS client,
    a.state,
    a.wait_event_type,
    a.wait_event,
    a.query_start,
    a.xact_start,
    now() - a.query_start                   AS query_age,
    now() - a.state_change                  AS state_age,
    now() - a.xact_start                    AS xact_age,
    a.query,
    coalesce(w.blocked_by, '{}')                AS blocked_by,
    (SELECT l.mode || ' on ' || coalesce(l.relation::regclass::text, l.locktype)
       FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted LIMIT 1) AS waiting_for
FROM pg_stat_activity a
JOIN involved i ON i.pid = a.pid
LEFT JOIN waiting w ON w.pid = a.pid
ORDER BY a.pid
