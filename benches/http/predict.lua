-- wrk script: POST /predict with the seed's example applicant, then one JSON line of results.
-- Usage: wrk -t2 -c32 -d10s -s predict.lua http://127.0.0.1:PORT
wrk.method = "POST"
wrk.path = "/predict"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"RevolvingUtilizationOfUnsecuredLines": 0.766126609, "age": 45, ' ..
  '"NumberOfTime30_59DaysPastDueNotWorse": 2, "DebtRatio": 0.802982129, "MonthlyIncome": 9120, ' ..
  '"NumberOfOpenCreditLinesAndLoans": 13, "NumberOfTimes90DaysLate": 0, ' ..
  '"NumberRealEstateLoansOrLines": 6, "NumberOfTime60_89DaysPastDueNotWorse": 0, ' ..
  '"NumberOfDependents": 2}'

-- Printed last, on its own line, for bench.py: totals, errors and latency percentiles in µs.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
