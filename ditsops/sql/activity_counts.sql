-- Client connections by state against max_connections. This ditsops session is left out
-- of the states so they are what the application holds, and counted on its own
-- (this_session); states are spelled as PostgreSQL spells them ('idle in transaction
-- (aborted)', which pg_activity miscounts). Every state not named here (NULL, 'disabled',
-- 'starting' of PostgreSQL 17) is 'unknown', so the states always add up to total, and
-- without a filter total + this_session = cluster_total: one statement, one snapshot.
SELECT
    count(*)                                                            AS total,
    count(*) FILTER (WHERE state = 'active')                            AS active,
    count(*) FILTER (WHERE state = 'idle')                              AS idle,
    count(*) FILTER (WHERE state = 'idle in transaction')               AS idle_in_transaction,
    count(*) FILTER (WHERE state = 'idle in transaction (aborted)')     AS idle_in_transaction_aborted,
    count(*) FILTER (WHERE state = 'fastpath function call')            AS fastpath_function_call,
    count(*) FILTER (WHERE state IS NULL OR state NOT IN (
        'active', 'idle', 'idle in transaction', 'idle in transaction (aborted)', 'fastpath function call'
    ))                                                                  AS unknown,
    count(*) FILTER (WHERE wait_event_type = 'Lock')                    AS waiting_on_lock,
    current_setting('max_connections')::int                             AS max_connections,
    current_setting('superuser_reserved_connections')::int              AS superuser_reserved,
    (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS cluster_total,
    (SELECT count(*) FROM pg_stat_activity
      WHERE backend_type = 'client backend' AND pid = pg_backend_pid())   AS this_session
FROM pg_stat_activity
WHERE backend_type = 'client backend'
  AND pid <> pg_backend_pid()
  AND (%(db)s::text IS NULL OR datname = %(db)s::text)
  AND (%(user)s::text IS NULL OR usename = %(user)s::text)
  AND (%(app)s::text IS NULL OR application_name = %(app)s::text)
