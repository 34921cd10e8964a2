//! Configuration of `credit serve`, resolved once from flags and environment.

use super::ServeArgs;
use std::path::PathBuf;

/// When a response may leave relative to its log record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// The response is sent only after the record is committed to the local journal.
    Strict,
    /// The response is sent first; the record is queued for the journal (may be lost on a crash).
    Relaxed,
}

impl Durability {
    pub fn as_str(self) -> &'static str {
        match self {
            Durability::Strict => "strict",
            Durability::Relaxed => "relaxed",
        }
    }
}

/// Where prediction records end up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogTarget {
    /// The embedded SQLite file is both journal and final sink (table `predictions`).
    Sqlite { path: PathBuf },
    /// JSON lines appended to a file; a journal in front of it.
    Jsonl { path: PathBuf, journal: PathBuf },
    /// BigQuery streaming inserts; a journal in front of it.
    BigQuery {
        project: String,
        dataset: String,
        table: String,
        /// `BIGQUERY_API_BASE` (an emulator), else Google's endpoint with real credentials.
        api_base: Option<String>,
        journal: PathBuf,
    },
}

impl LogTarget {
    /// Parses `sqlite://PATH`, `jsonl://PATH`, `bigquery://PROJECT/DATASET/TABLE`.
    pub fn parse(
        spec: &str,
        journal: Option<PathBuf>,
        api_base: Option<String>,
    ) -> Result<LogTarget, String> {
        if let Some(path) = spec.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// needs a file path".into());
            }
            return Ok(LogTarget::Sqlite {
                path: PathBuf::from(path),
            });
        }
        if let Some(path) = spec.strip_prefix("jsonl://") {
            if path.is_empty() {
                return Err("jsonl:// needs a file path".into());
            }
            let path = PathBuf::from(path);
            let journal = journal.unwrap_or_else(|| {
                let mut j = path.clone().into_os_string();
                j.push(".outbox.db");
                PathBuf::from(j)
            });
            return Ok(LogTarget::Jsonl { path, journal });
        }
        if let Some(rest) = spec.strip_prefix("bigquery://") {
            let parts: Vec<&str> = rest.split('/').collect();
            let ok = |s: &str| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
            };
            if parts.len() != 3 || !parts.iter().all(|p| ok(p)) {
                return Err(format!(
                    "bad sink {spec:?}: expected bigquery://PROJECT/DATASET/TABLE"
                ));
            }
            let journal = journal.unwrap_or_else(|| {
                PathBuf::from(format!(".work/outbox-{}-{}.db", parts[1], parts[2]))
            });
            return Ok(LogTarget::BigQuery {
                project: parts[0].to_owned(),
                dataset: parts[1].to_owned(),
                table: parts[2].to_owned(),
                api_base: api_base.filter(|s| !s.is_empty()),
                journal,
            });
        }
        Err(format!(
            "unknown log sink {spec:?}: use sqlite://PATH, jsonl://PATH or bigquery://PROJECT/DATASET/TABLE"
        ))
    }

    /// The SQLite file that journals records before they are answered.
    pub fn journal_path(&self) -> &PathBuf {
        match self {
            LogTarget::Sqlite { path } => path,
            LogTarget::Jsonl { journal, .. } | LogTarget::BigQuery { journal, .. } => journal,
        }
    }

    /// One line for the start-up log (no secrets in here).
    pub fn describe(&self) -> String {
        match self {
            LogTarget::Sqlite { path } => format!("sqlite://{}", path.display()),
            LogTarget::Jsonl { path, journal } => {
                format!("jsonl://{} (journal {})", path.display(), journal.display())
            }
            LogTarget::BigQuery {
                project,
                dataset,
                table,
                api_base,
                journal,
            } => format!(
                "bigquery://{project}/{dataset}/{table} via {} (journal {})",
                api_base.as_deref().unwrap_or("googleapis"),
                journal.display()
            ),
        }
    }
}

/// Everything the server needs, validated.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub host: String,
    pub port: u16,
    /// The model as configured (a file, the shipped model, or a `models:/` reference): what
    /// start-up loads; reloads keep their own current reference in [`super::state::AppState`].
    pub model: crate::model_ref::ModelRef,
    pub log: LogTarget,
    pub durability: Durability,
    pub web_dir: PathBuf,
    pub max_batch: usize,
    /// Bearer token of the admin routes; `None` turns them off (404).
    pub admin_token: Option<String>,
    pub fsync: bool,
    pub threads: Option<usize>,
    /// Bounds of the outbox of a remote sink, and when sink errors become dead letters.
    pub limits: super::log::Limits,
    /// Shared directory of per-instance journals (`--journal-dir`), remote sinks only.
    pub journal_dir: Option<PathBuf>,
    /// When another instance's journal in `journal_dir` counts as orphaned.
    pub journal_stale_after: std::time::Duration,
    /// How long a client may take to send a request head and a body.
    pub client: super::listen::Limits,
}

impl ServeConfig {
    pub fn from_args(a: &ServeArgs) -> Result<ServeConfig, String> {
        let durability = match a.durability.as_str() {
            "strict" => Durability::Strict,
            "relaxed" => Durability::Relaxed,
            other => return Err(format!("--durability {other:?}: use strict or relaxed")),
        };
        if a.max_pending == 0 || a.max_pending_bytes == 0 || a.dead_letter_after == 0 {
            return Err(
                "--max-pending, --max-pending-bytes and --dead-letter-after must be at least 1"
                    .into(),
            );
        }
        let limits = super::log::Limits {
            max_pending: i64::try_from(a.max_pending).unwrap_or(i64::MAX),
            max_bytes: i64::try_from(a.max_pending_bytes).unwrap_or(i64::MAX),
            dead_letter_after: i64::from(a.dead_letter_after),
        };
        if a.max_batch == 0 || a.max_batch > 100_000 {
            return Err(format!("--max-batch {}: use 1..=100000", a.max_batch));
        }
        let log = LogTarget::parse(
            &a.log,
            a.journal.clone(),
            std::env::var("BIGQUERY_API_BASE").ok(),
        )?;
        if a.journal_dir.is_some() && a.journal_stale_after == 0 {
            return Err(
                "--journal-stale-after: use at least 1 (seconds; 60 is the default)".into(),
            );
        }
        if a.journal_dir.is_some() && a.journal_stale_after < 15 {
            // The lease is renewed every 5 s: fewer than three missed renewals may take the
            // journal of a live but slow instance (which then fails /health and is replaced).
            tracing::warn!(
                seconds = a.journal_stale_after,
                "--journal-stale-after below 15 s: a slow instance may lose its journal to another"
            );
        }
        if a.journal_dir.is_some() && matches!(log, LogTarget::Sqlite { .. }) {
            return Err(
                "--journal-dir is for remote sinks (jsonl://, bigquery://): with sqlite:// the \
                 journal is the log itself, give its path in --log"
                    .into(),
            );
        }
        let seconds = |flag: &str, x: f64| {
            if x.is_finite() && (0.001..=86_400.0).contains(&x) {
                Ok(std::time::Duration::from_secs_f64(x))
            } else {
                Err(format!("{flag} {x}: use seconds from 0.001 to 86400"))
            }
        };
        if a.max_connections == 0 {
            return Err("--max-connections: use at least 1".into());
        }
        let client = super::listen::Limits {
            header: seconds("--header-timeout", a.header_timeout)?,
            body: seconds("--body-timeout", a.body_timeout)?,
            connections: a.max_connections,
        };
        Ok(ServeConfig {
            host: a.host.clone(),
            port: a.port,
            model: crate::model_ref::ModelRef::or_shipped(a.model.as_ref()),
            log,
            durability,
            web_dir: a.web_dir.clone(),
            max_batch: a.max_batch,
            admin_token: std::env::var("CREDIT_ADMIN_TOKEN")
                .ok()
                .filter(|t| !t.is_empty()),
            fsync: a.fsync,
            threads: a.threads,
            limits,
            journal_dir: a.journal_dir.clone(),
            journal_stale_after: std::time::Duration::from_secs(a.journal_stale_after),
            client,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sinks() {
        assert_eq!(
            LogTarget::parse("sqlite://.work/p.db", None, None).unwrap(),
            LogTarget::Sqlite {
                path: ".work/p.db".into()
            }
        );
        match LogTarget::parse("jsonl://out/p.jsonl", None, None).unwrap() {
            LogTarget::Jsonl { path, journal } => {
                assert_eq!(path, PathBuf::from("out/p.jsonl"));
                assert_eq!(journal, PathBuf::from("out/p.jsonl.outbox.db"));
            }
            other => panic!("{other:?}"),
        }
        match LogTarget::parse("bigquery://p/d/t", None, Some("http://x".into())).unwrap() {
            LogTarget::BigQuery {
                project,
                dataset,
                table,
                api_base,
                ..
            } => {
                assert_eq!(
                    (project.as_str(), dataset.as_str(), table.as_str()),
                    ("p", "d", "t")
                );
                assert_eq!(api_base.as_deref(), Some("http://x"));
            }
            other => panic!("{other:?}"),
        }
        assert!(LogTarget::parse("bigquery://p/d", None, None).is_err());
        assert!(LogTarget::parse("bigquery://p/d/t/x", None, None).is_err());
        assert!(LogTarget::parse("postgres://x", None, None).is_err());
        assert!(LogTarget::parse("sqlite://", None, None).is_err());
    }
}
