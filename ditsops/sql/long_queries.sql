-- Non-idle queries running longer than a threshold, longest first.
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
  AND state IS NOT NULL AND state <> 'idle'
  AND now() - query_start > %(older_than)s::interval
ORDER BY query_start ASC
LIMIT %(limit)s
