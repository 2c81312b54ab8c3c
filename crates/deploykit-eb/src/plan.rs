//! The pure planner: `plan(current, target, bundle) -> Plan`. No I/O; unit-tested over data.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::error::EbError;
use crate::lb::{self, SettingsUndo};
use crate::model::*;

/// One option setting to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub namespace: String,
    pub name: String,
    pub value: String,
}

impl Setting {
    pub fn new(ns: &str, name: &str, value: impl Into<String>) -> Self {
        Self {
            namespace: ns.into(),
            name: name.into(),
            value: value.into(),
        }
    }

    /// The value as it may be printed (env vars that look secret are masked).
    pub fn shown(&self) -> String {
        if self.namespace == NS_ENV {
            shown_value(&self.name, &self.value)
        } else {
            self.value.clone()
        }
    }
}

impl Serialize for Setting {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Setting", 3)?;
        st.serialize_field("namespace", &self.namespace)?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("value", &self.shown())?;
        st.end()
    }
}

/// What happens to the application version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum VersionStep {
    /// The label exists already: nothing is uploaded or created.
    Reuse { label: String },
    /// Upload the bundle (skipped if the same bytes are there) and create the version.
    Create {
        label: String,
        /// `None`: Elastic Beanstalk's storage bucket (CreateStorageLocation).
        bucket: Option<String>,
        key: String,
        description: String,
    },
}

impl VersionStep {
    pub fn label(&self) -> &str {
        match self {
            VersionStep::Reuse { label } | VersionStep::Create { label, .. } => label,
        }
    }
}

/// What happens to the environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum EnvStep {
    Create {
        solution_stack: String,
        settings: Vec<Setting>,
    },
    Update {
        /// `Some` when the version changes.
        version_label: Option<String>,
        /// Only the settings whose value differs.
        settings: Vec<Setting>,
        /// Options to remove (`OptionsToRemove`; values empty): the HTTPS listener's when the
        /// environment goes back to a single instance.
        remove: Vec<Setting>,
    },
    /// Already on our version with our settings: only verify health.
    Unchanged,
}

/// The whole deploy, computed before the first mutating call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub application: String,
    pub environment: String,
    pub create_application: bool,
    /// `Some(n)`: set the version lifecycle to keep `n` versions.
    pub set_lifecycle: Option<u32>,
    pub version: VersionStep,
    pub environment_step: EnvStep,
    /// The version the environment runs now: the rollback target.
    pub previous_version: Option<String>,
    /// The environment's status when it is busy (Updating, Launching...): we wait first.
    pub busy: Option<String>,
    /// Things the user should know (variables set outside deploy.toml, deprecated settings).
    pub notes: Vec<String>,
    /// How a failed update's settings are put back (empty when no setting changes).
    pub undo: SettingsUndo,
}

impl Plan {
    /// True when applying the plan changes nothing.
    pub fn is_noop(&self) -> bool {
        !self.create_application
            && self.set_lifecycle.is_none()
            && matches!(self.version, VersionStep::Reuse { .. })
            && self.environment_step == EnvStep::Unchanged
    }

    /// True when the plan sends CreateEnvironment or UpdateEnvironment (and so must wait).
    pub fn changes_environment(&self) -> bool {
        self.environment_step != EnvStep::Unchanged
    }
}

/// The option settings deploy.toml asks for.
pub fn desired_settings(t: &EbTarget, creating: bool) -> Vec<Setting> {
    // The environment type first: single instance or the load-balanced upgrade (crate::lb).
    let mut s = lb::type_settings(t, creating);
    if let Some(r) = &t.service_role {
        s.push(Setting::new(NS_ENVIRONMENT, "ServiceRole", r));
    }
    s.push(Setting::new(NS_LAUNCH, "InstanceType", &t.instance_type));
    if let Some(p) = &t.instance_profile {
        s.push(Setting::new(NS_LAUNCH, "IamInstanceProfile", p));
    }
    s.push(Setting::new(
        NS_HEALTH,
        "SystemType",
        if t.enhanced_health {
            "enhanced"
        } else {
            "basic"
        },
    ));
    s.push(Setting::new(
        NS_COMMAND,
        "DeploymentPolicy",
        &t.deployment_policy,
    ));
    s.push(Setting::new(
        NS_LOGS,
        "StreamLogs",
        if t.stream_logs { "true" } else { "false" },
    ));
    if t.stream_logs {
        s.push(Setting::new(
            NS_LOGS,
            "RetentionInDays",
            t.log_retention_days.to_string(),
        ));
    }
    for (k, v) in &t.env {
        s.push(Setting::new(NS_ENV, k, v));
    }
    for (k, v) in &t.secrets {
        s.push(Setting::new(NS_SECRETS, k, v));
    }
    for ((ns, name), v) in &t.extra_settings {
        s.push(Setting::new(ns, name, v));
    }
    s
}

/// The S3 key of a version's bundle.
pub fn bundle_key(application: &str, label: &str) -> String {
    format!("{application}/{label}.zip")
}

/// Computes what to do. Errors are configuration problems found before any mutating call.
pub fn plan(current: &CurrentState, t: &EbTarget, bundle: &BundleRef) -> Result<Plan, EbError> {
    if let Err(problems) = check_env_limits(&t.env, &t.secrets) {
        return Err(EbError::EnvLimits { problems });
    }
    let env = current.environment.as_ref().filter(|e| !e.is_gone());
    lb::check(env, t)?;
    let mut notes = Vec::new();
    if t.env.contains_key("FLASK_ENV") {
        notes.push(
            "FLASK_ENV is set but Flask ignores it since 2.3; use FLASK_DEBUG=0 (the default) instead"
                .into(),
        );
    }
    let existing = current.version_with_content(&bundle.label, &bundle.sha256);
    let label = existing.unwrap_or(&bundle.label).to_string();
    let version = if existing.is_some() {
        VersionStep::Reuse {
            label: label.clone(),
        }
    } else {
        VersionStep::Create {
            key: bundle_key(&t.application, &label),
            bucket: t.bucket.clone(),
            description: bundle.description(),
            label: label.clone(),
        }
    };
    let set_lifecycle = (current.lifecycle_max_count != Some(t.keep_versions)
        && t.keep_versions > 0)
        .then_some(t.keep_versions);

    let mut undo = SettingsUndo::default();
    let (environment_step, previous_version, busy) = match env {
        None => {
            let mut missing = Vec::new();
            if t.service_role.is_none() {
                missing.push("service_role");
            }
            if t.instance_profile.is_none() {
                missing.push("instance_profile");
            }
            if !missing.is_empty() {
                return Err(EbError::MissingForCreate {
                    environment: t.environment.clone(),
                    missing: missing.join(" and "),
                });
            }
            let solution_stack = match &t.solution_stack {
                Some(s) => s.clone(),
                None => latest_python_al2023(&current.solution_stacks).ok_or_else(|| {
                    EbError::NoPlatform {
                        region: t.region.clone(),
                        available: current.solution_stacks.len(),
                    }
                })?,
            };
            (
                EnvStep::Create {
                    solution_stack,
                    settings: desired_settings(t, true),
                },
                None,
                None,
            )
        }
        Some(e) => {
            let changed: Vec<Setting> = desired_settings(t, false)
                .into_iter()
                .filter(|s| {
                    e.settings
                        .get(&(s.namespace.clone(), s.name.clone()))
                        .is_none_or(|cur| cur != &s.value)
                })
                .collect();
            let unmanaged: Vec<String> = e
                .env_vars()
                .keys()
                .filter(|k| !t.env.contains_key(*k))
                .cloned()
                .collect();
            if !unmanaged.is_empty() {
                notes.push(format!(
                    "set on the environment but not in deploy.toml (left as they are): {}; unset them on the environment if they are unwanted",
                    unmanaged.join(", ")
                ));
            }
            let remove = lb::removals(&e.settings, t);
            let version_changes = e.version_label.as_deref() != Some(label.as_str());
            let step = if !version_changes && changed.is_empty() && remove.is_empty() {
                EnvStep::Unchanged
            } else {
                undo = lb::undo(&e.settings, &changed, &remove);
                EnvStep::Update {
                    version_label: version_changes.then(|| label.clone()),
                    settings: changed,
                    remove,
                }
            };
            (
                step,
                e.version_label.clone(),
                e.is_busy().then(|| e.status.clone()),
            )
        }
    };
    Ok(Plan {
        application: t.application.clone(),
        environment: t.environment.clone(),
        create_application: !current.application_exists,
        set_lifecycle,
        version,
        environment_step,
        previous_version,
        busy,
        notes,
        undo,
    })
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Plan for {} / {}:", self.application, self.environment)?;
        if self.create_application {
            writeln!(f, "  + create application {}", self.application)?;
        }
        if let Some(n) = self.set_lifecycle {
            writeln!(f, "  ~ version lifecycle: keep the newest {n} versions")?;
        }
        match &self.version {
            VersionStep::Reuse { label } => {
                writeln!(f, "  = version {label} exists (reused, nothing uploaded)")?
            }
            VersionStep::Create {
                label, bucket, key, ..
            } => writeln!(
                f,
                "  + upload bundle to s3://{}/{key} (skipped if the same bytes are there) and create version {label}",
                bucket
                    .as_deref()
                    .unwrap_or("<elasticbeanstalk storage bucket>")
            )?,
        }
        if let Some(b) = &self.busy {
            writeln!(f, "  ! environment is {b}: wait for it to finish first")?;
        }
        match &self.environment_step {
            EnvStep::Create {
                solution_stack,
                settings,
            } => {
                let kind = if settings
                    .iter()
                    .any(|s| s.name == "EnvironmentType" && s.value == "LoadBalanced")
                {
                    "load-balanced: ALB with HTTPS"
                } else {
                    "single instance"
                };
                writeln!(
                    f,
                    "  + create environment {} ({kind}, {solution_stack})",
                    self.environment
                )?;
                for s in settings {
                    writeln!(f, "      {}:{} = {}", s.namespace, s.name, s.shown())?;
                }
            }
            EnvStep::Update {
                version_label,
                settings,
                remove,
            } => {
                match version_label {
                    Some(l) => writeln!(
                        f,
                        "  ~ update environment {}: version {} -> {l}",
                        self.environment,
                        self.previous_version.as_deref().unwrap_or("(none)")
                    )?,
                    None => writeln!(f, "  ~ update environment {} settings", self.environment)?,
                }
                for s in settings {
                    writeln!(f, "      {}:{} = {}", s.namespace, s.name, s.shown())?;
                }
                for s in remove {
                    writeln!(f, "      - remove {}:{}", s.namespace, s.name)?;
                }
                if !self.undo.is_empty() {
                    writeln!(
                        f,
                        "    on failure: restore {} previous setting(s) and remove {} new one(s)",
                        self.undo.restore.len(),
                        self.undo.remove.len()
                    )?;
                }
            }
            EnvStep::Unchanged => writeln!(
                f,
                "  = environment {} already runs this version with these settings (health is verified)",
                self.environment
            )?,
        }
        for n in &self.notes {
            writeln!(f, "  note: {n}")?;
        }
        Ok(())
    }
}

/// Settings that `eb env set` sends: variables whose value differs from the current one.
pub fn env_set_changes(
    current: &BTreeMap<String, String>,
    set: &BTreeMap<String, String>,
) -> Vec<Setting> {
    set.iter()
        .filter(|(k, v)| current.get(*k) != Some(*v))
        .map(|(k, v)| Setting::new(NS_ENV, k, v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> EbTarget {
        let mut t = EbTarget::new("us-east-1", "app", "app-dev");
        t.service_role = Some("aws-elasticbeanstalk-service-role".into());
        t.instance_profile = Some("aws-elasticbeanstalk-ec2-role".into());
        t.env.insert("S3_BUCKET".into(), "b".into());
        t.secrets.insert(
            "SECRET_KEY".into(),
            "arn:aws:secretsmanager:us-east-1:1:secret:k".into(),
        );
        t
    }

    fn bundle(label: &str) -> BundleRef {
        BundleRef {
            path: "b.zip".into(),
            sha256: "ab".repeat(32),
            label: label.into(),
            git_sha: Some("1234567".into()),
            git_dirty: true,
        }
    }

    fn stacks() -> Vec<String> {
        [
            "64bit Amazon Linux 2023 v4.2.9 running Python 3.12",
            "64bit Amazon Linux 2023 v4.3.1 running Python 3.11",
            "64bit Amazon Linux 2023 v4.3.1 running Python 3.13",
            "64bit Amazon Linux 2 v3.8.0 running Python 3.9",
            "64bit Amazon Linux 2023 v6.1.0 running Node.js 20",
        ]
        .map(String::from)
        .to_vec()
    }

    fn env_running(label: &str, t: &EbTarget) -> EnvInfo {
        EnvInfo {
            name: t.environment.clone(),
            id: Some("e-1".into()),
            status: "Ready".into(),
            health: "Green".into(),
            health_status: Some("Ok".into()),
            version_label: Some(label.into()),
            cname: Some("app-dev.us-east-1.elasticbeanstalk.com".into()),
            endpoint_url: None,
            solution_stack: stacks().first().cloned(),
            settings: desired_settings(t, true)
                .into_iter()
                .map(|s| ((s.namespace, s.name), s.value))
                .collect(),
        }
    }

    #[test]
    fn first_deploy_creates_everything() {
        let cur = CurrentState {
            solution_stacks: stacks(),
            ..Default::default()
        };
        let p = plan(&cur, &target(), &bundle("app-1")).unwrap();
        assert!(p.create_application);
        assert_eq!(p.set_lifecycle, Some(50));
        assert!(
            matches!(&p.version, VersionStep::Create { key, description, .. }
            if key == "app/app-1.zip" && description.contains("git:1234567 (dirty)"))
        );
        let EnvStep::Create {
            solution_stack,
            settings,
        } = &p.environment_step
        else {
            panic!("{p:?}")
        };
        assert_eq!(
            solution_stack,
            "64bit Amazon Linux 2023 v4.3.1 running Python 3.13"
        );
        let has = |ns: &str, n: &str, v: &str| {
            settings
                .iter()
                .any(|s| s.namespace == ns && s.name == n && s.value == v)
        };
        assert!(has(NS_ENVIRONMENT, "EnvironmentType", "SingleInstance"));
        assert!(has(NS_LAUNCH, "InstanceType", "t3.micro"));
        assert!(has(
            NS_LAUNCH,
            "IamInstanceProfile",
            "aws-elasticbeanstalk-ec2-role"
        ));
        assert!(has(
            NS_ENVIRONMENT,
            "ServiceRole",
            "aws-elasticbeanstalk-service-role"
        ));
        assert!(has(NS_HEALTH, "SystemType", "enhanced"));
        assert!(has(NS_LOGS, "StreamLogs", "true"));
        assert!(has(NS_LOGS, "RetentionInDays", "7"));
        assert!(has(NS_COMMAND, "DeploymentPolicy", "AllAtOnce"));
        assert!(has(NS_ENV, "S3_BUCKET", "b"));
        assert!(has(
            NS_SECRETS,
            "SECRET_KEY",
            "arn:aws:secretsmanager:us-east-1:1:secret:k"
        ));
        assert_eq!(p.previous_version, None);
    }

    #[test]
    fn unchanged_redeploy_is_a_noop() {
        let t = target();
        let cur = CurrentState {
            application_exists: true,
            lifecycle_max_count: Some(50),
            versions: vec![VersionInfo {
                label: "app-1".into(),
                description: None,
                created: None,
                status: None,
                bucket: None,
                key: None,
            }],
            environment: Some(env_running("app-1", &t)),
            solution_stacks: vec![],
        };
        let p = plan(&cur, &t, &bundle("app-1")).unwrap();
        assert!(p.is_noop(), "{p}");
    }

    #[test]
    fn same_content_under_a_new_commit_reuses_the_version() {
        // Labels carry the git revision; the content hash decides reuse.
        let t = target();
        let old = "app-abababababab-1111111";
        let cur = CurrentState {
            application_exists: true,
            lifecycle_max_count: Some(50),
            versions: vec![VersionInfo {
                label: old.into(),
                description: None,
                created: None,
                status: None,
                bucket: None,
                key: None,
            }],
            environment: Some(env_running(old, &t)),
            solution_stacks: vec![],
        };
        let p = plan(&cur, &t, &bundle("app-abababababab-2222222")).unwrap();
        assert_eq!(p.version.label(), old);
        assert!(p.is_noop(), "{p}");
        // Different content under the same prefix is a new version.
        let mut other = bundle("app-cdcdcdcdcdcd-2222222");
        other.sha256 = "cd".repeat(32);
        let p = plan(&cur, &t, &other).unwrap();
        assert!(matches!(p.version, VersionStep::Create { .. }), "{p}");
    }

    #[test]
    fn new_version_updates_only_what_changed() {
        let mut t = target();
        let mut cur = CurrentState {
            application_exists: true,
            lifecycle_max_count: Some(50),
            environment: Some(env_running("app-1", &t)),
            ..Default::default()
        };
        t.env.insert("S3_BUCKET".into(), "other".into());
        let p = plan(&cur, &t, &bundle("app-2")).unwrap();
        assert_eq!(p.previous_version.as_deref(), Some("app-1"));
        assert_eq!(
            p.environment_step,
            EnvStep::Update {
                version_label: Some("app-2".into()),
                settings: vec![Setting::new(NS_ENV, "S3_BUCKET", "other")],
                remove: vec![],
            }
        );
        // A busy environment is noted, and an env var set outside deploy.toml is left alone.
        if let Some(e) = cur.environment.as_mut() {
            e.status = "Updating".into();
            e.settings
                .insert((NS_ENV.into(), "MANUAL".into()), "x".into());
        }
        let p = plan(&cur, &t, &bundle("app-2")).unwrap();
        assert_eq!(p.busy.as_deref(), Some("Updating"));
        assert!(p.notes.iter().any(|n| n.contains("MANUAL")));
        assert!(
            matches!(&p.environment_step, EnvStep::Update { settings, .. } if settings.len() == 1)
        );
    }

    #[test]
    fn configuration_problems_fail_before_any_call() {
        let cur = CurrentState {
            solution_stacks: stacks(),
            ..Default::default()
        };
        type Mutation = Box<dyn Fn(&mut EbTarget)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|t| t.service_role = None), "service_role"),
            (Box::new(|t| t.instance_profile = None), "instance_profile"),
            (
                Box::new(|t| {
                    t.env.insert("BIG".into(), "x".repeat(300));
                }),
                "value of `BIG` is 300 characters",
            ),
            (
                Box::new(|t| {
                    for i in 0..20 {
                        t.env.insert(format!("V{i}"), "y".repeat(250));
                    }
                }),
                "4096",
            ),
            (
                Box::new(|t| {
                    t.env.insert("K".repeat(129), "v".into());
                }),
                "129 characters",
            ),
        ];
        for (edit, expect) in cases {
            let mut t = target();
            edit(&mut t);
            let err = plan(&cur, &t, &bundle("a")).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(expect), "{expect:?} not in {text}");
            assert!(err.is_config(), "{text}");
        }
        // No Python AL2023 platform and none pinned.
        let cur = CurrentState::default();
        let err = plan(&cur, &target(), &bundle("a")).unwrap_err();
        assert!(err.to_string().contains("solution_stack"), "{err}");
    }

    #[test]
    fn platform_choice_prefers_newest_al2023_python() {
        assert_eq!(
            latest_python_al2023(&stacks()).as_deref(),
            Some("64bit Amazon Linux 2023 v4.3.1 running Python 3.13")
        );
        assert_eq!(latest_python_al2023(&stacks()[3..]), None);
    }

    #[test]
    fn secret_looking_values_are_masked_in_plans() {
        let mut t = target();
        t.env.insert("API_TOKEN".into(), "hunter2".into());
        t.env
            .insert("DB".into(), "postgresql://u:pw@db:5432/x".into());
        let cur = CurrentState {
            solution_stacks: stacks(),
            ..Default::default()
        };
        let p = plan(&cur, &t, &bundle("a")).unwrap();
        let text = p.to_string();
        let json = serde_json::to_string(&p).unwrap();
        for out in [&text, &json] {
            assert!(!out.contains("hunter2") && !out.contains(":pw@"), "{out}");
        }
        assert!(text.contains("S3_BUCKET = b"), "{text}");
    }

    #[test]
    fn env_set_sends_only_differences() {
        let cur: BTreeMap<String, String> =
            [("A".into(), "1".into()), ("B".into(), "2".into())].into();
        let set: BTreeMap<String, String> = [
            ("A".into(), "1".into()),
            ("B".into(), "3".into()),
            ("C".into(), "4".into()),
        ]
        .into();
        let ch = env_set_changes(&cur, &set);
        assert_eq!(
            ch,
            vec![
                Setting::new(NS_ENV, "B", "3"),
                Setting::new(NS_ENV, "C", "4")
            ]
        );
    }
}
