-- Client connections by state, each against max_connections.
SELECT coalesce(state, 'unknown')                                           AS state,
       count(*)                                                              AS connections,
       round(100.0 * count(*) / current_setting('max_connections')::int, 1) AS percent_of_max,
       current_setting('max_connections')::int                               AS max_connections
FROM pg_stat_activity
WHERE backend_type = 'client backend'
GROUP BY 1
ORDER BY 2 DESC
