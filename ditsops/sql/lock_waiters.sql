-- Sessions waiting on a lock, oldest wait first, with the pids they wait for.
SELECT pid,
       pg_blocking_pids(pid)  AS blocked_by,
       usename                AS "user",
       application_name       AS application,
       now() - query_start    AS waiting,
       query
FROM pg_stat_activity
WHERE wait_event_type = 'Lock'
ORDER BY query_start
LIMIT %(limit)s
