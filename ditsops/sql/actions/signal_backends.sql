-- Terminate or cancel exactly the backends that were previewed: a pid is only signalled
-- while it still has the backend_start shown, so a pid reused by a new connection in the
-- meantime is never hit. Never this session, never a non-client backend.
-- With %(blocking)s (the preview selected blockers of a lock queue) a pid is also only
-- signalled while it still blocks a session waiting on a lock; `still_blocking` says why
-- one was left alone.
WITH blockers AS (
    SELECT DISTINCT unnest(pg_blocking_pids(pid)) AS pid
    FROM pg_stat_activity
    WHERE %(blocking)s::boolean
      AND wait_event_type = 'Lock'
)
SELECT
    a.pid,
    (a.pid IN (SELECT pid FROM blockers)) AS still_blocking,
    CASE WHEN NOT %(blocking)s::boolean OR a.pid IN (SELECT pid FROM blockers) THEN
        CASE %(action)s::text
            WHEN 'terminate' THEN pg_terminate_backend(a.pid)
            WHEN 'cancel'    THEN pg_cancel_backend(a.pid)
        END
    END AS signalled
FROM pg_stat_activity a
JOIN unnest(%(pids)s::int[], %(starts)s::timestamptz[]) AS shown(pid, backend_start)
  ON shown.pid = a.pid AND shown.backend_start = a.backend_start
WHERE a.backend_type = 'client backend'
  AND a.pid <> pg_backend_pid()
