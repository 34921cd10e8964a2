//! Prometheus metrics kept in atomics (no lock and no allocation on the request path) and
//! rendered as the text exposition format at `GET /metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

/// Route labels (a fixed set keeps the label cardinality bounded whatever the callers send).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Predict = 0,
    Batch,
    Health,
    Ready,
    Model,
    Artifact,
    Metrics,
    OpenApi,
    Docs,
    Admin,
    Static,
    NotFound,
}

const ROUTE_NAMES: [&str; 12] = [
    "/predict",
    "/predict/batch",
    "/health",
    "/ready",
    "/model",
    "/model/artifact",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/admin/reload",
    "static",
    "unmatched",
];
const STATUSES: [u16; 13] = [
    200, 400, 401, 404, 405, 409, 413, 415, 422, 500, 503, 304, 0,
];
/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 14] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0,
];

/// A latency histogram (cumulative on output).
#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; 15],
    sum_us: AtomicU64,
}

impl Histogram {
    pub fn observe_us(&self, us: u64) {
        let s = us as f64 / 1e6;
        let i = BUCKETS
            .iter()
            .position(|b| s <= *b)
            .unwrap_or(BUCKETS.len());
        self.buckets[i].fetch_add(1, Relaxed);
        self.sum_us.fetch_add(us, Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cum = 0u64;
        for (i, b) in BUCKETS.iter().enumerate() {
            cum += self.buckets[i].load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{b}\"}} {cum}");
        }
        cum += self.buckets[BUCKETS.len()].load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {cum}");
        let _ = writeln!(
            out,
            "{name}_sum{{{}}} {}",
            labels.trim_end_matches(','),
            self.sum_us.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "{name}_count{{{}}} {cum}",
            labels.trim_end_matches(',')
        );
    }
}

/// Every counter and gauge of the service.
#[derive(Default)]
pub struct Metrics {
    requests: [[AtomicU64; 13]; 12],
    pub predict_latency: Histogram,
    pub batch_latency: Histogram,
    pub decisions: [AtomicU64; 2],
    pub batch_items: AtomicU64,
    pub validation_errors: AtomicU64,
    /// Records waiting in the channel to the journal writer.
    pub log_queue_depth: AtomicI64,
    pub log_records_journaled: AtomicU64,
    /// Group writes to the segment journal.
    pub log_commits: AtomicU64,
    /// Records written to the segment journal and not yet loaded into the SQLite table.
    pub log_segment_backlog: AtomicI64,
    /// Records the loader put into the SQLite table, and its transactions.
    pub log_loaded: AtomicU64,
    pub log_load_transactions: AtomicU64,
    pub log_write_failures: AtomicU64,
    /// Records in the journal not yet confirmed by the remote sink.
    pub log_outbox_pending: AtomicI64,
    pub log_shipped: AtomicU64,
    pub log_ship_failures: AtomicU64,
    pub log_dead_letter: AtomicU64,
    /// Dead letters now in the journal (this run's and earlier runs').
    pub log_dead_letter_held: AtomicI64,
    /// Bytes the journal holds for the remote sink (outbox and dead letters), estimated.
    pub log_outbox_bytes: AtomicI64,
    /// Microseconds since the epoch of the oldest outbox record; 0 when the outbox is empty.
    pub log_oldest_pending_us: AtomicI64,
    /// Strict requests refused with 503 because the outbox was full.
    pub log_rejected_full: AtomicU64,
    /// Records not logged: relaxed durability with a full outbox, or a failed journal write.
    pub log_dropped: AtomicU64,
    pub reloads_ok: AtomicU64,
    pub reloads_refused: AtomicU64,
    pub in_flight: AtomicI64,
    /// Client connections open.
    pub connections_open: AtomicI64,
    /// Connections the server closed for want of a request head within `--header-timeout`.
    pub connections_timed_out: AtomicU64,
}

impl Metrics {
    pub fn count_request(&self, route: Route, status: u16) {
        let s = STATUSES
            .iter()
            .position(|x| *x == status)
            .unwrap_or(STATUSES.len() - 1);
        self.requests[route as usize][s].fetch_add(1, Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self, model_version: &str, model_checksum: &str) -> String {
        let mut o = String::with_capacity(8192);
        o.push_str("# HELP credit_http_requests_total HTTP requests answered, by route and status.\n# TYPE credit_http_requests_total counter\n");
        for (r, name) in ROUTE_NAMES.iter().enumerate() {
            for (s, code) in STATUSES.iter().enumerate() {
                let n = self.requests[r][s].load(Relaxed);
                if n > 0 {
                    let code = if *code == 0 {
                        "other".to_owned()
                    } else {
                        code.to_string()
                    };
                    let _ = writeln!(
                        o,
                        "credit_http_requests_total{{route=\"{name}\",status=\"{code}\"}} {n}"
                    );
                }
            }
        }
        o.push_str("# HELP credit_request_duration_seconds Time from request to response (scoring and journal commit included).\n# TYPE credit_request_duration_seconds histogram\n");
        self.predict_latency.render(
            &mut o,
            "credit_request_duration_seconds",
            "route=\"/predict\",",
        );
        self.batch_latency.render(
            &mut o,
            "credit_request_duration_seconds",
            "route=\"/predict/batch\",",
        );
        o.push_str("# HELP credit_decisions_total Decisions made, by prediction (1 = predicted default).\n# TYPE credit_decisions_total counter\n");
        for (i, d) in self.decisions.iter().enumerate() {
            let _ = writeln!(
                o,
                "credit_decisions_total{{prediction=\"{i}\"}} {}",
                d.load(Relaxed)
            );
        }
        let counters: [(&str, &str, u64); 14] = [
            ("credit_batch_items_total", "Applicants received in batch requests.", self.batch_items.load(Relaxed)),
            ("credit_validation_errors_total", "Applicants refused by validation (422 or batch item errors).", self.validation_errors.load(Relaxed)),
            ("credit_log_records_journaled_total", "Prediction records written to the local journal (its segment files): what a strict answer waits for.", self.log_records_journaled.load(Relaxed)),
            ("credit_log_commits_total", "Journal segment appends: a handler's own record (without --fsync), or a group of the writer thread (one write, and with --fsync one fdatasync, per group).", self.log_commits.load(Relaxed)),
            ("credit_log_loaded_total", "Records loaded from the journal's segments into its SQLite table.", self.log_loaded.load(Relaxed)),
            ("credit_log_load_transactions_total", "SQLite transactions of the journal's loader.", self.log_load_transactions.load(Relaxed)),
            ("credit_log_write_failures_total", "Failed journal writes (each is retried; strict requests wait).", self.log_write_failures.load(Relaxed)),
            ("credit_log_shipped_total", "Records confirmed by the remote sink and removed from the journal.", self.log_shipped.load(Relaxed)),
            ("credit_log_ship_failures_total", "Failed attempts to ship a batch to the remote sink.", self.log_ship_failures.load(Relaxed)),
            ("credit_log_dead_letter_total", "Records moved to the journal's dead_letter table (refused by the sink, or a permanent sink error after the allowed attempts).", self.log_dead_letter.load(Relaxed)),
            ("credit_log_rejected_total", "Strict-durability requests answered 503 because the outbox was full.", self.log_rejected_full.load(Relaxed)),
            ("credit_log_dropped_total", "Answered decisions that were not logged (relaxed durability with a full outbox, or a journal write that failed for good).", self.log_dropped.load(Relaxed)),
            ("credit_model_reloads_total", "Model reloads that succeeded.", self.reloads_ok.load(Relaxed)),
            ("credit_http_connections_timed_out_total", "Connections closed because no complete request head arrived within --header-timeout: kept-alive connections left idle, and clients that stalled (a steep rise with few requests is the latter).", self.connections_timed_out.load(Relaxed)),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        }
        let _ = writeln!(o, "# HELP credit_model_reloads_refused_total Model reloads refused (the old model kept serving).\n# TYPE credit_model_reloads_refused_total counter\ncredit_model_reloads_refused_total {}", self.reloads_refused.load(Relaxed));
        let oldest = self.log_oldest_pending_us.load(Relaxed);
        let age = if oldest > 0 {
            (super::timefmt::unix_micros(std::time::SystemTime::now()) - oldest).max(0) as f64 / 1e6
        } else {
            0.0
        };
        let _ = writeln!(o, "# HELP credit_log_oldest_pending_seconds Age of the oldest record waiting for the remote sink (0 when none).\n# TYPE credit_log_oldest_pending_seconds gauge\ncredit_log_oldest_pending_seconds {age}");
        let gauges: [(&str, &str, i64); 7] = [
            (
                "credit_log_queue_depth",
                "Records waiting for the journal writer.",
                self.log_queue_depth.load(Relaxed).max(0),
            ),
            (
                "credit_log_segment_backlog",
                "Records written to the journal's segments and not yet loaded into its SQLite table.",
                self.log_segment_backlog.load(Relaxed).max(0),
            ),
            (
                "credit_log_outbox_pending",
                "Journaled records not yet confirmed by the remote sink.",
                self.log_outbox_pending.load(Relaxed).max(0),
            ),
            (
                "credit_log_outbox_bytes",
                "Bytes the journal holds for the remote sink (outbox and dead letters, estimated).",
                self.log_outbox_bytes.load(Relaxed).max(0),
            ),
            (
                "credit_log_dead_letters",
                "Records in the journal's dead_letter table.",
                self.log_dead_letter_held.load(Relaxed).max(0),
            ),
            (
                "credit_http_in_flight",
                "Requests being processed.",
                self.in_flight.load(Relaxed).max(0),
            ),
            (
                "credit_http_connections_open",
                "Client connections open.",
                self.connections_open.load(Relaxed).max(0),
            ),
        ];
        for (name, help, v) in gauges {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let _ = writeln!(
            o,
            "# HELP credit_model_info The model being served.\n# TYPE credit_model_info gauge\ncredit_model_info{{model_version=\"{}\",checksum=\"{}\"}} 1",
            esc(model_version),
            esc(model_checksum)
        );
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.count_request(Route::Predict, 200);
        m.count_request(Route::Predict, 200);
        m.count_request(Route::Predict, 422);
        m.count_request(Route::NotFound, 418);
        m.predict_latency.observe_us(300);
        m.predict_latency.observe_us(2_000_000);
        let t = m.render("1.0.0", "sha256:x");
        assert!(t.contains("credit_http_requests_total{route=\"/predict\",status=\"200\"} 2"));
        assert!(t.contains("credit_http_requests_total{route=\"/predict\",status=\"422\"} 1"));
        assert!(t.contains("credit_http_requests_total{route=\"unmatched\",status=\"other\"} 1"));
        assert!(t.contains(
            "credit_request_duration_seconds_bucket{route=\"/predict\",le=\"0.0005\"} 1"
        ));
        assert!(
            t.contains("credit_request_duration_seconds_bucket{route=\"/predict\",le=\"+Inf\"} 2")
        );
        assert!(t.contains("credit_request_duration_seconds_count{route=\"/predict\"} 2"));
        assert!(t.contains("credit_model_info{model_version=\"1.0.0\",checksum=\"sha256:x\"} 1"));
    }
}
