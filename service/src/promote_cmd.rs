//! `credit promote` and `credit rollback`: move the registry's `champion` alias only once every
//! service serves the new version.
//!
//! A promotion is a small transaction over two kinds of state that cannot share a lock: the
//! MLflow alias and the model each running `credit serve` holds. The order makes the registry
//! tell the truth at every step:
//!
//! 1. note what each service serves now (`GET /model`: its model reference and version);
//! 2. ask each service to load `models:/NAME/N` (`POST /admin/reload {"model": ...}`) and check
//!    with `GET /model` that it now reports registry version `N`;
//! 3. only then move the alias (and `previous-<alias>` to the old champion, for `rollback`);
//! 4. services that followed the alias (`models:/NAME@champion`) are pointed back at it, so the
//!    next SIGHUP or reload keeps following the registry.
//!
//! If step 2 fails anywhere, every service already touched is reloaded with the reference it
//! had, and the alias stays where it was: nobody serves a version the registry does not name,
//! and the registry never names a version nobody serves.

use crate::mlflow::{set_alias, Client, MlflowError, REGISTERED_MODEL};
use serde_json::{json, Value};
use std::time::Duration;

/// The alias `rollback` goes back to: set by each promotion to the champion it replaced.
fn previous_alias(alias: &str) -> String {
    format!("previous-{alias}")
}

/// Where the registry and the services are; shared by `promote` and `rollback`.
#[derive(clap::Args, Debug, Clone)]
pub struct Target {
    /// Registered model name.
    #[arg(long, default_value = REGISTERED_MODEL)]
    pub name: String,
    /// The alias that names the serving model.
    #[arg(long, default_value = "champion")]
    pub alias: String,
    /// Base URL of a running `credit serve` (repeat for each instance; may be none to move only
    /// the alias). Comma-separated in `CREDIT_SERVICES`.
    #[arg(long = "service", env = "CREDIT_SERVICES", value_delimiter = ',')]
    pub services: Vec<String>,
    /// The services' admin token (`credit serve --admin-token`).
    #[arg(long, env = "CREDIT_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// MLflow tracking server.
    #[arg(long, env = "MLFLOW_TRACKING_URI")]
    pub mlflow_uri: String,
    /// Seconds to wait for each service call.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

#[derive(clap::Args, Debug)]
pub struct PromoteArgs {
    /// The registered version to make champion.
    #[arg(long)]
    pub version: u64,
    #[command(flatten)]
    pub target: Target,
}

#[derive(clap::Args, Debug)]
pub struct RollbackArgs {
    /// Version to go back to (default: the one `previous-<alias>` names, set by the last
    /// promotion).
    #[arg(long)]
    pub to: Option<u64>,
    #[command(flatten)]
    pub target: Target,
}

/// Why a promotion did not happen (the alias did not move unless said otherwise).
#[derive(Debug, thiserror::Error)]
pub enum PromoteError {
    #[error(transparent)]
    Mlflow(#[from] MlflowError),
    #[error("service {url}: {detail}")]
    Service { url: String, detail: String },
    #[error(
        "service {url} answered for {expected} but serves registry version {got} \
         (model_version {model_version})"
    )]
    NotServing {
        url: String,
        expected: String,
        got: String,
        model_version: String,
    },
    #[error("no alias {0:?} to roll back to: pass --to VERSION")]
    NoPrevious(String),
    #[error("services were given but no admin token (--admin-token or CREDIT_ADMIN_TOKEN)")]
    NoToken,
    #[error(
        "{cause}; rolling the services back also failed for: {failed}. \
         The alias did not move; check those services"
    )]
    RollbackFailed {
        cause: Box<PromoteError>,
        failed: String,
    },
}

/// What a service serves, as `GET /model` reports it.
#[derive(Clone, Debug)]
struct Serving {
    /// The reference to reload to get it back (`source.reference`, or the file path).
    reference: Option<String>,
    registry_version: Option<String>,
    model_version: String,
}

struct Services {
    agent: ureq::Agent,
    token: String,
}

impl Services {
    fn new(timeout: Duration, token: Option<String>, any: bool) -> Result<Services, PromoteError> {
        let token = match token {
            Some(t) => t,
            None if any => return Err(PromoteError::NoToken),
            None => String::new(),
        };
        let agent = ureq::AgentBuilder::new().timeout(timeout).build();
        Ok(Services { agent, token })
    }

    fn fail(url: &str, detail: impl ToString) -> PromoteError {
        PromoteError::Service {
            url: url.to_owned(),
            detail: detail.to_string(),
        }
    }

    fn serving(&self, url: &str) -> Result<Serving, PromoteError> {
        let body = self
            .agent
            .get(&format!("{}/model", url.trim_end_matches('/')))
            .call()
            .map_err(|e| Self::fail(url, format!("GET /model: {e}")))?
            .into_string()
            .map_err(|e| Self::fail(url, e))?;
        let v: Value = serde_json::from_str(&body).map_err(|e| Self::fail(url, e))?;
        let source = &v["source"];
        let text = |x: &Value| match x {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        Ok(Serving {
            reference: text(&source["reference"]).or_else(|| text(&source["path"])),
            registry_version: text(&source["registry_version"]),
            model_version: text(&v["model_version"]).unwrap_or_default(),
        })
    }

    fn reload(&self, url: &str, reference: &str) -> Result<(), PromoteError> {
        let r = self
            .agent
            .post(&format!("{}/admin/reload", url.trim_end_matches('/')))
            .set("Authorization", &format!("Bearer {}", self.token))
            .set("Content-Type", "application/json")
            .send_string(&json!({ "model": reference }).to_string());
        match r {
            Ok(_) => Ok(()),
            Err(ureq::Error::Status(code, resp)) => Err(Self::fail(
                url,
                format!(
                    "reload {reference} refused: HTTP {code}: {}",
                    resp.into_string().unwrap_or_default()
                ),
            )),
            Err(e) => Err(Self::fail(url, format!("reload {reference}: {e}"))),
        }
    }

    /// Reloads `reference` and checks the service reports registry version `version`.
    fn load_checked(&self, url: &str, reference: &str, version: &str) -> Result<(), PromoteError> {
        self.reload(url, reference)?;
        let now = self.serving(url)?;
        if now.registry_version.as_deref() != Some(version) {
            return Err(PromoteError::NotServing {
                url: url.to_owned(),
                expected: reference.to_owned(),
                got: now.registry_version.unwrap_or_else(|| "(none)".into()),
                model_version: now.model_version,
            });
        }
        Ok(())
    }
}

/// The version an alias names, if it exists.
fn alias_version(client: &Client, name: &str, alias: &str) -> Result<Option<String>, MlflowError> {
    let ep = "registered-models/alias";
    match client.get(ep, &[("name", name), ("alias", alias)]) {
        Ok(v) => Ok(v["model_version"]["version"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| {
                v["model_version"]["version"]
                    .as_u64()
                    .map(|n| n.to_string())
            })),
        Err(MlflowError::Api { status: 404, .. }) => Ok(None),
        Err(MlflowError::Api { code: Some(c), .. })
            if c == "RESOURCE_DOES_NOT_EXIST" || c == "INVALID_PARAMETER_VALUE" =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Checks the version exists before any service is touched.
fn check_version(client: &Client, name: &str, version: &str) -> Result<(), MlflowError> {
    client
        .get(
            "model-versions/get",
            &[("name", name), ("version", version)],
        )
        .map(|_| ())
}

/// What a finished transaction did, for the command's output.
#[derive(Debug)]
pub struct Promoted {
    pub version: String,
    pub replaced: Option<String>,
    pub services: Vec<String>,
}

/// Puts every service in `touched` back on what it served before.
fn restore(services: &Services, touched: &[(&str, Serving)], cause: PromoteError) -> PromoteError {
    let mut failed = Vec::new();
    for (url, before) in touched {
        let back = match (&before.reference, &before.registry_version) {
            (Some(r), Some(v)) => services.load_checked(url, r, v),
            (Some(r), None) => services.reload(url, r),
            (None, _) => Err(Services::fail(
                url,
                "it reported no model reference to restore",
            )),
        };
        if let Err(e) = back {
            eprintln!("{url}: could not restore the service: {e}");
            failed.push(format!("{url} ({e})"));
        }
    }
    if failed.is_empty() {
        cause
    } else {
        PromoteError::RollbackFailed {
            cause: Box::new(cause),
            failed: failed.join("; "),
        }
    }
}

/// Makes `version` the alias's version, services first (see the module doc).
pub fn transaction(t: &Target, version: &str) -> Result<Promoted, PromoteError> {
    let client = Client::new(&t.mlflow_uri)?;
    check_version(&client, &t.name, version)?;
    let replaced = alias_version(&client, &t.name, &t.alias)?;
    let services = Services::new(
        Duration::from_secs(t.timeout),
        t.admin_token.clone(),
        !t.services.is_empty(),
    )?;
    let pinned = format!("models:/{}/{version}", t.name);
    let mut touched: Vec<(&str, Serving)> = Vec::new();
    for url in &t.services {
        let before = services.serving(url)?;
        touched.push((url, before));
        if let Err(e) = services.load_checked(url, &pinned, version) {
            return Err(restore(&services, &touched, e));
        }
        eprintln!("{url}: serves version {version}");
    }
    if let Err(e) = set_alias(&client, &t.name, &t.alias, version) {
        return Err(restore(&services, &touched, e.into()));
    }
    if let Some(old) = replaced.as_deref().filter(|old| *old != version) {
        set_alias(&client, &t.name, &previous_alias(&t.alias), old)?;
    }
    follow_alias_again(&services, t, &touched, version);
    Ok(Promoted {
        version: version.to_owned(),
        replaced,
        services: t.services.clone(),
    })
}

/// Services that followed the alias are pointed back at it (it now names `version`), so a later
/// SIGHUP keeps following the registry. A failure here is logged, not fatal: the service still
/// serves `version`, pinned.
fn follow_alias_again(services: &Services, t: &Target, touched: &[(&str, Serving)], version: &str) {
    let follows = format!("models:/{}@{}", t.name, t.alias);
    for (url, before) in touched {
        if before.reference.as_deref() != Some(follows.as_str()) {
            continue;
        }
        if let Err(e) = services.load_checked(url, &follows, version) {
            eprintln!("{url}: serves version {version} pinned, not through the alias: {e}");
        }
    }
}

fn print(p: &Promoted, t: &Target, verb: &str) {
    let from = p.replaced.as_deref().unwrap_or("(none)");
    println!(
        "{verb} {}/{}: {} → {} ({} service(s) checked)",
        t.name,
        t.alias,
        from,
        p.version,
        p.services.len()
    );
}

pub fn run_promote(a: &PromoteArgs) -> Result<(), PromoteError> {
    let p = transaction(&a.target, &a.version.to_string())?;
    print(&p, &a.target, "promoted");
    Ok(())
}

pub fn run_rollback(a: &RollbackArgs) -> Result<(), PromoteError> {
    let t = &a.target;
    let version = match a.to {
        Some(v) => v.to_string(),
        None => {
            let client = Client::new(&t.mlflow_uri)?;
            let prev = previous_alias(&t.alias);
            alias_version(&client, &t.name, &prev)?.ok_or(PromoteError::NoPrevious(prev))?
        }
    };
    let p = transaction(t, &version)?;
    print(&p, t, "rolled back");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_alias_is_named_after_the_alias() {
        assert_eq!(previous_alias("champion"), "previous-champion");
    }

    #[test]
    fn services_need_a_token() {
        let e = Services::new(Duration::from_secs(1), None, true).err();
        assert!(matches!(e, Some(PromoteError::NoToken)), "{e:?}");
        assert!(Services::new(Duration::from_secs(1), None, false).is_ok());
    }
}
