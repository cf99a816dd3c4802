-- Which of the given (pid, backend_start) pairs are still connected.
SELECT a.pid
FROM pg_stat_activity a
JOIN unnest(%(pids)s::int[], %(starts)s::timestamptz[]) AS shown(pid, backend_start)
  ON shown.pid = a.pid AND shown.backend_start = a.backend_start
