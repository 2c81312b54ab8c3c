//! The GitHub Actions deploy workflow: OIDC credentials, actions pinned by commit SHA.

use serde::Serialize;

use crate::InitError;
use crate::render::{Vars, render};

/// A GitHub Action pinned to a full commit SHA, with the release that commit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ActionPin {
    pub action: &'static str,
    pub sha: &'static str,
    pub version: &'static str,
}

impl ActionPin {
    /// `owner/name@<sha> # <version>`, the `uses:` value.
    pub fn uses(&self) -> String {
        format!("{}@{} # {}", self.action, self.sha, self.version)
    }
}

/// Every action the workflow uses. Each SHA is the commit of the named release tag, checked
/// against several public workflows that pin the same release (never invented); update a pin by
/// replacing both fields together.
pub const PINS: [ActionPin; 3] = [
    ActionPin {
        action: "actions/checkout",
        sha: "08c6903cd8c0fde910a37f88322edcfb5dd907a8",
        version: "v5.0.0",
    },
    ActionPin {
        action: "Swatinem/rust-cache",
        sha: "9d47c6ad4b02e050fd481d890b2ea34778fd09d6",
        version: "v2.7.8",
    },
    ActionPin {
        action: "aws-actions/configure-aws-credentials",
        sha: "a03048d87541d1d9fcf2ecf528a4a65ba9bd7838",
        version: "v5.0.0",
    },
];

const TEMPLATE: &str = include_str!("../templates/deploy.yml");

/// What the workflow deploys and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkflowSpec {
    /// The app name (comments only).
    pub name: String,
    /// deploy.toml's target the workflow deploys (`prod`); also the concurrency group.
    pub target: String,
    /// The branch whose pushes deploy (`main`).
    pub branch: String,
    /// The target's region (configure-aws-credentials requires one).
    pub region: String,
}

fn pin(action: &str) -> String {
    PINS.iter()
        .find(|p| p.action == action)
        .map(ActionPin::uses)
        .unwrap_or_default()
}

/// `.github/workflows/deploy.yml` for `spec`.
pub fn deploy_workflow(spec: &WorkflowSpec) -> Result<String, InitError> {
    for (field, v) in [
        ("target", &spec.target),
        ("branch", &spec.branch),
        ("region", &spec.region),
    ] {
        let ok = !v.is_empty()
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/' | '.'));
        if !ok {
            return Err(InitError::BadFile {
                file: ".github/workflows/deploy.yml".into(),
                field: field.into(),
                why: format!("`{v}` must be letters, digits, `-`, `_`, `.` or `/`"),
            });
        }
    }
    let mut vars = Vars::default();
    vars.set("name", &spec.name)
        .set("target", &spec.target)
        .set("branch", &spec.branch)
        .set("region", &spec.region)
        .set("checkout", pin("actions/checkout"))
        .set("rust_cache", pin("Swatinem/rust-cache"))
        .set(
            "configure_aws_credentials",
            pin("aws-actions/configure-aws-credentials"),
        );
    render("deploy.yml", TEMPLATE, &vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_full_shas_with_a_release() {
        for p in PINS {
            assert_eq!(p.sha.len(), 40, "{p:?}");
            assert!(
                p.sha.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
                "{p:?}"
            );
            assert!(p.version.starts_with('v'), "{p:?}");
            assert!(!pin(p.action).is_empty());
        }
    }

    #[test]
    fn refuses_values_that_would_break_the_yaml() {
        let spec = |target: &str| WorkflowSpec {
            name: "shop".into(),
            target: target.into(),
            branch: "main".into(),
            region: "us-east-1".into(),
        };
        assert!(deploy_workflow(&spec("prod")).is_ok());
        for bad in ["", "prod: x", "a b", "${{ x }}"] {
            let e = deploy_workflow(&spec(bad)).unwrap_err();
            assert!(e.to_string().contains("target"), "{bad}: {e}");
        }
    }
}
