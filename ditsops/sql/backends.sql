-- Client backends (never this session, never background workers), with the ages the
-- views and filters need. `state_age` is time in the current state: for an active
-- backend the query's run time, for one idle in transaction how long it has sat idle.
--
-- With %(blocking)s only sessions that block a session waiting on a lock are kept, and
-- never a session that itself waits on one. pg_blocking_pids is only called for sessions
-- whose wait_event_type is 'Lock', and not at all without %(blocking)s. `blocks` are the
-- sessions it blocks directly; `behind` every session waiting behind it, directly or
-- through the lock queue (on a row lock only the first waiter is blocked by the holder
-- itself: the others wait for that waiter's tuple lock).
WITH RECURSIVE edges AS (
    SELECT w.pid AS waiter, b.blocker
    FROM pg_stat_activity w
    CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS b(blocker)
    WHERE %(blocking)s::boolean
      AND w.wait_event_type = 'Lock'
), behind(root, pid) AS (
    SELECT blocker, waiter FROM edges
    UNION
    SELECT behind.root, edges.waiter FROM behind JOIN edges ON edges.blocker = behind.pid
), direct AS (
    SELECT blocker AS pid, array_agg(DISTINCT waiter ORDER BY waiter) AS blocks
    FROM edges
    GROUP BY blocker
), queued AS (
    SELECT root AS pid, array_agg(DISTINCT pid ORDER BY pid) AS behind
    FROM behind
    WHERE pid <> root
    GROUP BY root
)
SELECT
    a.pid,
    a.backend_start,
    a.datname                                 AS database,
    a.usename                                 AS "user",
    a.application_name                        AS application,
    host(a.client_addr)                       AS client,
    a.state,
    a.wait_event_type,
    a.wait_event,
    a.query_start,
    a.xact_start,
    now() - a.query_start                 AS query_age,
    now() - a.state_change                AS state_age,
    now() - a.xact_start                  AS xact_age,
    a.query,
    d.blocks,
    q.behind
FROM pg_stat_activity a
LEFT JOIN direct d ON d.pid = a.pid
LEFT JOIN queued q ON q.pid = a.pid
WHERE a.backend_type = 'client backend'
  AND a.pid <> pg_backend_pid()
  AND (%(pids)s::int[] IS NULL OR a.pid = ANY(%(pids)s::int[]))
  AND (%(states)s::text[] IS NULL OR a.state = ANY(%(states)s::text[]))
  AND (%(older_than)s::interval IS NULL OR now() - a.state_change > %(older_than)s::interval)
  AND (%(db)s::text IS NULL OR a.datname = %(db)s::text)
  AND (%(user)s::text IS NULL OR a.usename = %(user)s::text)
  AND (%(app)s::text IS NULL OR a.application_name = %(app)s::text)
  AND (NOT %(blocking)s::boolean OR (
        d.blocks IS NOT NULL
        AND a.wait_event_type IS DISTINCT FROM 'Lock'
        AND a.pid NOT IN (SELECT waiter FROM edges)))
ORDER BY a.state_change ASC NULLS LAST, a.pid
LIMIT %(limit)s
