//! The instance deployment plan of the local Python platform (Amazon Linux 2023 semantics).
//!
//! Pure: from the environment's option settings and the extracted source bundle, compute what
//! the platform engine (`engine/eb-engine.py`, run in the instance container) does: the
//! environment properties and secret references, the `.ebextensions` `commands` and
//! `container_commands` (in name order, `leader_only` honoured: the single instance is the
//! leader), the `web` command (the `Procfile`'s, else gunicorn on the WSGI path), the health
//! check path and whether logs stream to CloudWatch.
//!
//! Precedence is EB's: settings applied to the environment through the API override
//! `.ebextensions` `option_settings`, which override the platform defaults.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::state::OptionSetting;

/// Environment properties (environment variables).
pub(crate) const ENV_NS: &str = "aws:elasticbeanstalk:application:environment";
/// Environment variables fetched from Secrets Manager / Parameter Store at deploy time.
pub(crate) const SECRETS_NS: &str = "aws:elasticbeanstalk:application:environmentsecrets";
const APP_NS: &str = "aws:elasticbeanstalk:application";
const PROCESS_NS: &str = "aws:elasticbeanstalk:environment:process:default";
const PYTHON_NS: &str = "aws:elasticbeanstalk:container:python";
const LOGS_NS: &str = "aws:elasticbeanstalk:cloudwatch:logs";
const COMMAND_NS: &str = "aws:elasticbeanstalk:command";
/// The emulator's default `WSGIPath` (a bundle's `.ebextensions` may change it).
const DEFAULT_WSGI: &str = "application";
/// EB's default command timeout (`aws:elasticbeanstalk:command` `Timeout`).
const DEFAULT_TIMEOUT_SECS: u64 = 600;

/// One `.ebextensions` `commands` / `container_commands` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Command {
    pub name: String,
    /// `.ebextensions/<file>`.
    pub file: String,
    /// A string runs in a shell; a list runs without one.
    pub command: serde_json::Value,
    pub cwd: Option<String>,
    pub env: BTreeMap<String, String>,
    pub test: Option<String>,
    pub ignore_errors: bool,
    pub leader_only: bool,
    /// The single instance is the command leader.
    pub is_leader: bool,
}

/// What one deploy runs on the instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Plan {
    /// Environment properties (API settings over `.ebextensions`), `PORT` excluded (the runtime
    /// owns it).
    #[serde(skip)]
    pub env: BTreeMap<String, String>,
    /// Variable name → secret or parameter ARN.
    #[serde(skip)]
    pub secrets: BTreeMap<String, String>,
    /// Names of the properties and secrets (for the engine's `deployment/env` file).
    pub env_names: Vec<String>,
    pub commands: Vec<Command>,
    pub container_commands: Vec<Command>,
    /// The `web` process command line.
    pub web: String,
    /// The web command needs gunicorn, which the platform provides when the app does not.
    pub needs_gunicorn: bool,
    #[serde(skip)]
    pub health_path: String,
    #[serde(skip)]
    pub stream_logs: bool,
    #[serde(skip)]
    pub timeout_secs: u64,
}

/// A bundle the platform cannot deploy: the file at fault and EB's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlanError {
    pub file: String,
    pub message: String,
}

fn opt<'a>(options: &'a [OptionSetting], ns: &str, name: &str) -> Option<&'a str> {
    options
        .iter()
        .find(|o| o.namespace == ns && o.name == name && o.resource.is_none())
        .map(|o| o.value.as_str())
}

/// `Application Healthcheck URL`: `/path`, `path`, or `HTTP:80/path`; empty means `/`.
pub(crate) fn health_path(value: &str) -> String {
    let v = value.trim();
    if v.is_empty() {
        return "/".to_string();
    }
    if v.starts_with('/') {
        return v.to_string();
    }
    let upper = v.to_ascii_uppercase();
    if upper.starts_with("HTTP:") || upper.starts_with("HTTPS:") {
        return match v.find('/') {
            Some(i) => v[i..].to_string(),
            None => "/".to_string(),
        };
    }
    format!("/{v}")
}

/// `WSGIPath` (`application`, `application.py`, `mysite/wsgi.py`, `mysite.wsgi:app`) as
/// gunicorn's `module:callable`.
pub(crate) fn wsgi_target(path: &str) -> String {
    let (module, callable) = match path.split_once(':') {
        Some((m, c)) => (m, c),
        None => (path, "application"),
    };
    let module = module.trim().trim_end_matches(".py").replace('/', ".");
    format!("{module}:{callable}")
}

/// The `web:` command of a Procfile, if it has one.
pub(crate) fn procfile_web(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let cmd = l.trim_start().strip_prefix("web:")?.trim();
        (!cmd.is_empty()).then(|| cmd.to_string())
    })
}

fn scalar(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Null => Some(String::new()),
        _ => None,
    }
}

fn truthy(v: Option<&serde_json::Value>) -> bool {
    match v {
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Parses one configuration file (YAML or JSON) as EB does.
pub(crate) fn parse_config(file: &str, text: &str) -> Result<serde_json::Value, PlanError> {
    let json_err = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    match serde_yaml::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Null) => Ok(serde_json::Value::Object(Default::default())),
        Ok(v) => Ok(v),
        Err(yaml_err) => Err(PlanError {
            file: file.to_string(),
            message: format!(
                "The configuration file {file} in application version contains invalid YAML or JSON. YAML exception: {yaml_err}, JSON exception: {json_err}. Update the configuration file."
            ),
        }),
    }
}

fn config_options(file: &str, v: &serde_json::Value) -> Result<Vec<OptionSetting>, PlanError> {
    let bad = |why: &str| PlanError {
        file: file.to_string(),
        message: format!("Invalid option_settings in {file}: {why}"),
    };
    let mut out = Vec::new();
    match v.get("option_settings") {
        None | Some(serde_json::Value::Null) => {}
        // `namespace: {name: value}`
        Some(serde_json::Value::Object(map)) => {
            for (ns, names) in map {
                let names = names
                    .as_object()
                    .ok_or_else(|| bad(&format!("{ns} must map option names to values")))?;
                for (name, value) in names {
                    out.push(OptionSetting {
                        namespace: ns.clone(),
                        name: name.clone(),
                        value: scalar(value)
                            .ok_or_else(|| bad(&format!("{ns}:{name} must be a scalar")))?,
                        resource: None,
                    });
                }
            }
        }
        // `- namespace: ..., option_name: ..., value: ...`
        Some(serde_json::Value::Array(list)) => {
            for item in list {
                let ns = item
                    .get("namespace")
                    .and_then(serde_json::Value::as_str)
                    .ok_or_else(|| bad("each list entry needs a namespace"))?;
                let name = item
                    .get("option_name")
                    .and_then(serde_json::Value::as_str)
                    .ok_or_else(|| bad("each list entry needs an option_name"))?;
                out.push(OptionSetting {
                    namespace: ns.to_string(),
                    name: name.to_string(),
                    value: item.get("value").and_then(scalar).unwrap_or_default(),
                    resource: None,
                });
            }
        }
        Some(_) => return Err(bad("expected a map or a list")),
    }
    Ok(out)
}

fn config_commands(
    file: &str,
    v: &serde_json::Value,
    key: &str,
) -> Result<Vec<Command>, PlanError> {
    let bad = |why: String| PlanError {
        file: file.to_string(),
        message: format!("Invalid {key} in {file}: {why}"),
    };
    let Some(section) = v.get(key) else {
        return Ok(Vec::new());
    };
    let Some(map) = section.as_object() else {
        if section.is_null() {
            return Ok(Vec::new());
        }
        return Err(bad("expected a map of command names".to_string()));
    };
    let mut out = Vec::new();
    for (name, c) in map {
        let command = c
            .get("command")
            .filter(|c| c.is_string() || c.is_array())
            .cloned()
            .ok_or_else(|| bad(format!("{name} needs a command (a string or a list)")))?;
        let env = match c.get("env") {
            Some(serde_json::Value::Object(m)) => m
                .iter()
                .map(|(k, v)| (k.clone(), scalar(v).unwrap_or_default()))
                .collect(),
            _ => BTreeMap::new(),
        };
        out.push(Command {
            name: name.clone(),
            file: format!(".ebextensions/{file}"),
            command,
            cwd: c.get("cwd").and_then(scalar),
            env,
            test: c.get("test").and_then(scalar),
            ignore_errors: truthy(c.get("ignoreErrors")),
            leader_only: truthy(c.get("leader_only")),
            is_leader: true,
        });
    }
    Ok(out)
}

/// Computes the plan from the environment's settings and the extracted bundle at `app`.
pub(crate) fn plan(options: &[OptionSetting], app: &Path) -> Result<Plan, PlanError> {
    // .ebextensions/*.config, in alphabetical order.
    let mut files: Vec<(String, String)> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(app.join(".ebextensions")) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".config") && e.path().is_file() {
                let text = std::fs::read_to_string(e.path()).map_err(|err| PlanError {
                    file: format!(".ebextensions/{name}"),
                    message: format!("Cannot read .ebextensions/{name}: {err}"),
                })?;
                files.push((name, text));
            }
        }
    }
    files.sort();
    let mut ext_options = Vec::new();
    let mut commands = Vec::new();
    let mut container_commands = Vec::new();
    for (name, text) in &files {
        let v = parse_config(&format!(".ebextensions/{name}"), text)?;
        ext_options.extend(config_options(name, &v)?);
        commands.extend(config_commands(name, &v, "commands")?);
        container_commands.extend(config_commands(name, &v, "container_commands")?);
    }
    // EB runs each section's commands in alphabetical order of their names.
    commands.sort_by(|a, b| a.name.cmp(&b.name));
    container_commands.sort_by(|a, b| a.name.cmp(&b.name));

    // API settings win over .ebextensions, except the emulator's own defaults.
    let get = |ns: &str, name: &str| -> Option<String> {
        let api = opt(options, ns, name);
        let ext = ext_options
            .iter()
            .rev()
            .find(|o| o.namespace == ns && o.name == name)
            .map(|o| o.value.clone());
        match (api, ext) {
            (Some(a), Some(e)) if ns == PYTHON_NS && name == "WSGIPath" && a == DEFAULT_WSGI => {
                Some(e)
            }
            (Some(a), _) => Some(a.to_string()),
            (None, e) => e,
        }
    };
    let mut env = BTreeMap::new();
    let mut secrets = BTreeMap::new();
    for o in &ext_options {
        match o.namespace.as_str() {
            ENV_NS => {
                env.insert(o.name.clone(), o.value.clone());
            }
            SECRETS_NS => {
                secrets.insert(o.name.clone(), o.value.clone());
            }
            _ => {}
        }
    }
    for o in options.iter().filter(|o| o.resource.is_none()) {
        match o.namespace.as_str() {
            ENV_NS => {
                env.insert(o.name.clone(), o.value.clone());
            }
            SECRETS_NS => {
                secrets.insert(o.name.clone(), o.value.clone());
            }
            _ => {}
        }
    }
    env.remove("PORT");
    for k in secrets.keys() {
        env.remove(k);
    }

    let procfile = std::fs::read_to_string(app.join("Procfile")).ok();
    let web = match procfile.as_deref() {
        Some(text) => procfile_web(text).ok_or_else(|| PlanError {
            file: "Procfile".to_string(),
            message: "Procfile has no 'web:' process; the platform has nothing to start."
                .to_string(),
        })?,
        None => {
            let wsgi = get(PYTHON_NS, "WSGIPath").unwrap_or_else(|| DEFAULT_WSGI.to_string());
            format!("gunicorn --bind :$PORT {}", wsgi_target(&wsgi))
        }
    };
    let needs_gunicorn = web.split_whitespace().next() == Some("gunicorn");
    let health = get(APP_NS, "Application Healthcheck URL")
        .filter(|v| !v.trim().is_empty())
        .or_else(|| get(PROCESS_NS, "HealthCheckPath"))
        .unwrap_or_default();
    let stream_logs = get(LOGS_NS, "StreamLogs").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let timeout_secs = get(COMMAND_NS, "Timeout")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|t| *t > 0)
        .unwrap_or(DEFAULT_TIMEOUT_SECS);
    let env_names = env.keys().chain(secrets.keys()).cloned().collect();
    Ok(Plan {
        env,
        secrets,
        env_names,
        commands,
        container_commands,
        web,
        needs_gunicorn,
        health_path: health_path(&health),
        stream_logs,
        timeout_secs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(ns: &str, name: &str, value: &str) -> OptionSetting {
        OptionSetting {
            namespace: ns.into(),
            name: name.into(),
            value: value.into(),
            resource: None,
        }
    }

    fn bundle(files: &[(&str, &str)]) -> tempdir::Dir {
        let d = tempdir::Dir::new();
        for (name, body) in files {
            let p = d.0.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, body).unwrap();
        }
        d
    }

    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Self {
                let p = std::env::temp_dir()
                    .join(format!("dk-eb-plan-{}", uuid::Uuid::new_v4().simple()));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn health_paths() {
        for (v, want) in [
            ("", "/"),
            ("/healthz", "/healthz"),
            ("healthz", "/healthz"),
            ("HTTP:80/healthz", "/healthz"),
            ("HTTP:80", "/"),
        ] {
            assert_eq!(health_path(v), want, "{v}");
        }
    }

    #[test]
    fn wsgi_targets() {
        for (v, want) in [
            ("application", "application:application"),
            ("application.py", "application:application"),
            ("mysite/wsgi.py", "mysite.wsgi:application"),
            ("app:app", "app:app"),
        ] {
            assert_eq!(wsgi_target(v), want, "{v}");
        }
    }

    #[test]
    fn defaults_without_procfile_or_extensions() {
        let d = bundle(&[("application.py", "application = None\n")]);
        let p = plan(&[o(PYTHON_NS, "WSGIPath", "application")], &d.0).unwrap();
        assert_eq!(p.web, "gunicorn --bind :$PORT application:application");
        assert!(p.needs_gunicorn);
        assert_eq!(p.health_path, "/");
        assert!(!p.stream_logs);
        assert_eq!(p.timeout_secs, 600);
    }

    #[test]
    fn extensions_options_commands_and_precedence() {
        let d = bundle(&[
            ("Procfile", "web: python serve.py\n"),
            (
                ".ebextensions/01-app.config",
                "option_settings:\n  aws:elasticbeanstalk:application:environment:\n    FROM_EXT: ext\n    BOTH: ext\n  aws:elasticbeanstalk:application:\n    Application Healthcheck URL: /healthz\ncontainer_commands:\n  02_second:\n    command: echo two\n  01_migrate:\n    command: python migrate.py\n    leader_only: true\ncommands:\n  a:\n    command: [\"true\"]\n    ignoreErrors: \"true\"\n",
            ),
            (
                ".ebextensions/02-logs.config",
                "{\"option_settings\": [{\"namespace\": \"aws:elasticbeanstalk:cloudwatch:logs\", \"option_name\": \"StreamLogs\", \"value\": true}]}",
            ),
        ]);
        let p = plan(
            &[
                o(ENV_NS, "BOTH", "api"),
                o(ENV_NS, "PORT", "9999"),
                o(
                    SECRETS_NS,
                    "SECRET_KEY",
                    "arn:aws:secretsmanager:us-east-1:000000000000:secret:k-AbCdEf",
                ),
            ],
            &d.0,
        )
        .unwrap();
        assert_eq!(p.web, "python serve.py");
        assert!(!p.needs_gunicorn);
        assert_eq!(p.env.get("FROM_EXT").map(String::as_str), Some("ext"));
        assert_eq!(p.env.get("BOTH").map(String::as_str), Some("api"));
        assert!(!p.env.contains_key("PORT"));
        assert_eq!(p.secrets.len(), 1);
        assert_eq!(p.health_path, "/healthz");
        assert!(p.stream_logs);
        let names: Vec<_> = p
            .container_commands
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["01_migrate", "02_second"]);
        assert!(p.container_commands[0].leader_only && p.container_commands[0].is_leader);
        assert_eq!(p.commands.len(), 1);
        assert!(p.commands[0].ignore_errors);
        assert_eq!(p.commands[0].file, ".ebextensions/01-app.config");
    }

    #[test]
    fn bad_extensions_and_procfile_name_the_file() {
        let d = bundle(&[
            ("application.py", ""),
            (".ebextensions/bad.config", "option_settings: [\n  - : :\n"),
        ]);
        let e = plan(&[], &d.0).unwrap_err();
        assert_eq!(e.file, ".ebextensions/bad.config");
        assert!(e.message.contains("invalid YAML or JSON"), "{}", e.message);
        let d = bundle(&[("Procfile", "worker: celery\n")]);
        let e = plan(&[], &d.0).unwrap_err();
        assert_eq!(e.file, "Procfile");
    }
}
