-- The database answers, and with which version.
SELECT 1 AS up, current_setting('server_version') AS version
