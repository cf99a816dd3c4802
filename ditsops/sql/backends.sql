-- Client backends (never this session, never background workers), with the ages the
-- views and filters need. `state_age` is time in the current state: for an active
-- backend the query's run time, for one idle in transaction how long it has sat idle.
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
  AND (%(pids)s::int[] IS NULL OR pid = ANY(%(pids)s::int[]))
  AND (%(states)s::text[] IS NULL OR state = ANY(%(states)s::text[]))
  AND (%(older_than)s::interval IS NULL OR now() - state_change > %(older_than)s::interval)
  AND (%(db)s::text IS NULL OR datname = %(db)s::text)
  AND (%(user)s::text IS NULL OR usename = %(user)s::text)
  AND (%(app)s::text IS NULL OR application_name = %(app)s::text)
ORDER BY state_change ASC NULLS LAST, pid
LIMIT %(limit)s
