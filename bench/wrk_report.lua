-- wrk script for `manage.py scorecard_bench`: prints one parseable line,
-- WRK <requests> <seconds> <p50 ms> <p95 ms> <p99 ms> <non-2xx/3xx responses> <socket errors>
-- It has no per-response hook, which would cost wrk CPU the server needs on two cores; the
-- benchmark checks the URL answers 200 (not a redirect to the login page) before and after.
function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "WRK %d %.3f %.3f %.3f %.3f %d %d\n",
    summary.requests,
    summary.duration / 1e6,
    latency:percentile(50) / 1000,
    latency:percentile(95) / 1000,
    latency:percentile(99) / 1000,
    errors.status,
    errors.connect + errors.read + errors.write + errors.timeout
  ))
end
