-- Sessions holding a transaction open while doing nothing: they keep locks and snapshots
-- and a pool slot. Aged by how long they have been idle, oldest first.
SELECT
    pid,
    backend_start,
    datname                                   AS database,
    usename                                   AS "user",
    application_name                          AS application,
    host(client_addr)                         AS client,
    state,
    wait_event_type,
    wait_event,
    query_start,
    xact_start,
    now() - query_start                   AS query_age,
    now() - state_change                  AS state_age,
    now() - xact_start                    AS xact_age,
    query
FROM pg_stat_activity
WHERE backend_type = 'client backend'
  AND pid <> pg_backend_pid()
  AND state IN ('idle in transaction', 'idle in transaction (aborted)')
  AND now() - state_change > %(older_than)s::interval
ORDER BY state_change ASC
LIMIT %(limit)s
