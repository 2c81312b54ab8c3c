//! The seed's "Am I done?" checklist (§14), evaluated against a target's live state.
//!
//! Two halves: [`observe`] reads what exists (HTTP probes, CloudWatch Logs, RDS, S3, Secrets
//! Manager, the environment's variables, the runbooks on disk) into [`Facts`], changing
//! nothing; [`verdicts`] is a pure function from those facts to [`Item`]s, each pass, fail or
//! not applicable with its evidence and the [`Fix`] that makes it pass. Front ends name the
//! fix's command; the library only says what to do.

mod alembic;
mod observe;
mod verdict;

use std::time::Duration;

use serde::Serialize;

pub use alembic::{Script, app_heads, heads, parse_script};
pub use observe::observe;
pub use verdict::verdicts;

use crate::{Result, Route, Session};
use deploykit_report::Reporter;

/// One checklist item's identity, stable in JSON (`app-http`, `migrations`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemId {
    AppHttp,
    AppHttps,
    Logs,
    Database,
    Migrations,
    Bucket,
    StaticFiles,
    Secrets,
    Backups,
    RestoreCheck,
    Alarms,
    Runbooks,
}

impl ItemId {
    /// The checklist's wording.
    pub fn title(self) -> &'static str {
        match self {
            ItemId::AppHttp => "App reachable over HTTP",
            ItemId::AppHttps => "App reachable over HTTPS",
            ItemId::Logs => "Logs visible in CloudWatch",
            ItemId::Database => "RDS reachable",
            ItemId::Migrations => "Migrations applied (database at the app's head)",
            ItemId::Bucket => "S3 bucket private (public access blocked, no drift)",
            ItemId::StaticFiles => "Static files in S3",
            ItemId::Secrets => "Secrets in Secrets Manager, none as literals",
            ItemId::Backups => "Backups on, recent snapshot",
            ItemId::RestoreCheck => "Restore checked recently",
            ItemId::Alarms => "Alarms on (CloudWatch, notifying the SNS topic)",
            ItemId::Runbooks => "Runbooks (deploy, roll back, rotate secrets)",
        }
    }
}

/// An item's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    NotApplicable,
}

/// What makes a failing item pass. Front ends map it to their own command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Fix {
    /// Deploy the app on this route.
    Deploy { route: Route },
    /// Create (or bring in line) the database instance.
    DbCreate,
    /// Run the app's migrations.
    DbMigrate,
    /// Take a manual snapshot.
    DbSnapshot,
    /// Restore the newest snapshot to a temporary instance and check it.
    DbRestoreCheck,
    /// Create or repair the app bucket.
    S3Ensure,
    /// Upload the static files.
    StaticSync,
    /// Create or repair the alarms, their topic and subscription.
    AlarmsEnsure,
    /// Store a secret's value in Secrets Manager.
    SecretsSet { name: String },
    /// Anything else, in words.
    Advice { text: String },
}

impl Fix {
    /// The fix in words, without any command name.
    pub fn advice(&self) -> String {
        match self {
            Fix::Deploy { route } => format!("deploy the app ({})", route_word(*route)),
            Fix::DbCreate => "create the database instance (or bring its settings in line)".into(),
            Fix::DbMigrate => "run the app's migrations".into(),
            Fix::DbSnapshot => "take a snapshot of the database".into(),
            Fix::DbRestoreCheck => {
                "restore the newest snapshot to a temporary instance and check it".into()
            }
            Fix::S3Ensure => "create or repair the app bucket".into(),
            Fix::AlarmsEnsure => "create or repair the alarms and their SNS topic".into(),
            Fix::StaticSync => "upload the static files to the app bucket".into(),
            Fix::SecretsSet { name } => format!("store `{name}` in Secrets Manager"),
            Fix::Advice { text } => text.clone(),
        }
    }
}

pub(crate) fn route_word(route: Route) -> &'static str {
    match route {
        Route::All => "every route",
        Route::Eb => "Elastic Beanstalk",
        Route::Apprunner => "App Runner",
        Route::Ecs => "ECS Express Mode",
    }
}

/// One evaluated item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub id: ItemId,
    pub title: &'static str,
    pub verdict: Verdict,
    /// What was seen (or why the item does not apply).
    pub evidence: String,
    /// Set when the item fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
}

/// The whole checklist for one target.
#[derive(Debug, Clone, Serialize)]
pub struct Checklist {
    pub target: String,
    pub items: Vec<Item>,
    pub passed: usize,
    pub failed: usize,
    pub not_applicable: usize,
}

impl Checklist {
    pub fn new(target: impl Into<String>, items: Vec<Item>) -> Checklist {
        let count = |v: Verdict| items.iter().filter(|i| i.verdict == v).count();
        Checklist {
            target: target.into(),
            passed: count(Verdict::Pass),
            failed: count(Verdict::Fail),
            not_applicable: count(Verdict::NotApplicable),
            items,
        }
    }

    /// Whether every applicable item passed.
    pub fn ok(&self) -> bool {
        self.failed == 0
    }
}

/// How recent things must be, and how long a probe may take.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// The newest log line must be at most this old.
    pub logs_within: Duration,
    /// The newest available snapshot must be at most this old.
    pub snapshot_within: Duration,
    /// The last passed restore check must be at most this old.
    pub restore_check_within: Duration,
    /// Bound on each HTTP probe and on connecting to the database.
    pub probe_timeout: Duration,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            logs_within: Duration::from_secs(24 * 3600),
            // RDS takes automated snapshots daily; two days leaves room for the window.
            snapshot_within: Duration::from_secs(48 * 3600),
            restore_check_within: Duration::from_secs(30 * 86_400),
            probe_timeout: Duration::from_secs(10),
        }
    }
}

/// Observes the target and evaluates the checklist. Reads only.
pub async fn run(s: &Session, opts: &CheckOptions, r: &dyn Reporter) -> Result<Checklist> {
    let facts = observe(s, opts, r).await;
    Ok(Checklist::new(
        s.target.name.clone(),
        verdicts(&facts, opts),
    ))
}

/// Everything [`observe`] read. An observation that failed holds its error text: the item it
/// feeds fails with that evidence (an unreadable bucket is not a passing one).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Whether the target is the local cloud (it serves HTTP only).
    pub local: bool,
    /// The app's routes that exist on the target, with their health probes.
    pub apps: Seen<Vec<AppProbe>>,
    /// The newest log line within the window: `(group, age)`; `None`: none in the window.
    pub logs: Seen<Option<(String, Duration)>>,
    /// The database instance.
    pub database: Seen<Option<DbFacts>>,
    /// The app's Alembic heads from its scripts (`None`: the app has no migrations).
    pub app_heads: Seen<Option<Vec<String>>>,
    /// `None`: the target has no `[s3]`.
    pub bucket: Option<Seen<BucketFacts>>,
    /// `None`: the target has no `[s3]` (or no static directory).
    pub static_files: Option<Seen<StaticFacts>>,
    pub secrets: Seen<SecretFacts>,
    /// `None`: the target has no `[alarms]`.
    pub alarms: Option<Seen<AlarmFacts>>,
    pub runbooks: RunbookFacts,
}

/// The alarms against `[alarms]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlarmFacts {
    pub topic: String,
    /// Alarms deploy.toml asks for (skipped ones not counted).
    pub wanted: usize,
    /// Every difference (missing alarm, changed threshold, no subscription...), in words.
    pub drift: Vec<String>,
}

/// An observation: what was seen, or why it could not be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen<T> {
    Ok(T),
    Unreadable(String),
}

impl<T: Default> Default for Seen<T> {
    fn default() -> Self {
        Seen::Ok(T::default())
    }
}

/// One deployed route's health probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppProbe {
    pub route: Route,
    /// `https://host/path` or `http://host/path`.
    pub url: String,
    /// Whether the URL's scheme is HTTPS (App Runner and ECS Express always are on AWS).
    pub https: bool,
    /// The HTTP status, or what failed.
    pub status: std::result::Result<u16, String>,
}

/// The instance and what connecting to it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbFacts {
    pub identifier: String,
    pub status: String,
    pub backup_retention_days: i32,
    /// Connecting as the master user: the Alembic revisions, or what failed.
    pub connect: std::result::Result<Option<Vec<String>>, String>,
    /// The newest available snapshot: `(identifier, age)`.
    pub newest_snapshot: Option<(String, Duration)>,
    /// The most recent passed restore check: `(snapshot, age)`.
    pub last_restore_check: Option<(String, Duration)>,
}

/// The app bucket's state against its spec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketFacts {
    pub name: String,
    pub exists: bool,
    /// Every difference from the spec (public access, encryption, policy...), in words.
    pub drift: Vec<String>,
}

/// The static directory against the bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaticFacts {
    pub dir: String,
    pub files: usize,
    /// Files whose object is missing or differs.
    pub pending: usize,
}

/// `[secrets]` against Secrets Manager, and secret-looking literals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretFacts {
    pub declared: usize,
    /// Secret names that do not exist (or are scheduled for deletion).
    pub missing: Vec<String>,
    /// `where: NAME` of secret-looking variables set as plain values.
    pub literals: Vec<String>,
}

/// Which runbook topics the project documents, and where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunbookFacts {
    /// `(topic, file)` found.
    pub found: Vec<(&'static str, String)>,
    /// Topics with no runbook.
    pub missing: Vec<&'static str>,
}

#[cfg(test)]
mod tests;
