-- Terminate or cancel exactly the backends that were previewed: a pid is only signalled
-- while it still has the backend_start shown, so a pid reused by a new connection in the
-- meantime is never hit. Never this session, never a non-client backend.
SELECT
    a.pid,
    CASE %(action)s::text
        WHEN 'terminate' THEN pg_terminate_backend(a.pid)
        WHEN 'cancel'    THEN pg_cancel_backend(a.pid)
    END AS signalled
FROM pg_stat_activity a
JOIN unnest(%(pids)s::int[], %(starts)s::timestamptz[]) AS shown(pid, backend_start)
  ON shown.pid = a.pid AND shown.backend_start = a.backend_start
WHERE a.backend_type = 'client backend'
  AND a.pid <> pg_backend_pid()
