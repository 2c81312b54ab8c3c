//! The platform catalog: current Python platforms on Amazon Linux 2023.

/// One platform version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Platform {
    /// `3.12`
    pub python: &'static str,
    /// `4.7.3`
    pub version: &'static str,
    /// The newest version of its branch.
    pub recommended: bool,
}

const VERSIONS: &[(&str, bool)] = &[("4.7.3", true), ("4.7.2", false)];
const PYTHONS: &[&str] = &["3.13", "3.12", "3.11", "3.9"];

pub(crate) const SUPPORTED_TIERS: &[&str] = &["WebServer/Standard", "Worker/SQS/HTTP"];
pub(crate) const SUPPORTED_ADDONS: &[&str] = &["Log/S3", "Monitoring/Healthd", "WorkerDaemon/SQSD"];

/// Every platform version, newest first.
pub(crate) fn all() -> Vec<Platform> {
    let mut out = Vec::new();
    for (version, recommended) in VERSIONS {
        for python in PYTHONS {
            out.push(Platform {
                python,
                version,
                recommended: *recommended,
            });
        }
    }
    out
}

impl Platform {
    /// `Python 3.12 running on 64bit Amazon Linux 2023`
    pub fn branch(&self) -> String {
        format!("Python {} running on 64bit Amazon Linux 2023", self.python)
    }

    /// `64bit Amazon Linux 2023 v4.7.3 running Python 3.12`
    pub fn solution_stack(&self) -> String {
        format!(
            "64bit Amazon Linux 2023 v{} running Python {}",
            self.version, self.python
        )
    }

    pub fn arn(&self, region: &str) -> String {
        format!(
            "arn:aws:elasticbeanstalk:{region}::platform/{}/{}",
            self.branch(),
            self.version
        )
    }

    pub fn lifecycle_state(&self) -> Option<&'static str> {
        self.recommended.then_some("Recommended")
    }

    /// The value a `ListPlatformVersions` filter of `kind` compares against.
    pub fn filter_value(&self, kind: &str) -> Option<String> {
        Some(match kind {
            "PlatformName" | "PlatformBranchName" => self.branch(),
            "PlatformVersion" => self.version.to_string(),
            "PlatformStatus" => "Ready".to_string(),
            "PlatformOwner" => "AWSElasticBeanstalk".to_string(),
            "PlatformLifecycleState" => self.lifecycle_state().unwrap_or("").to_string(),
            "ProgrammingLanguageName" => "Python".to_string(),
            "OperatingSystemName" => "Amazon Linux".to_string(),
            "PlatformBranchLifecycleState" => "Supported".to_string(),
            _ => return None,
        })
    }
}

/// Finds a platform by solution stack name or platform ARN (any region).
pub(crate) fn find(stack: Option<&str>, arn: Option<&str>) -> Option<Platform> {
    all().into_iter().find(|p| {
        stack.is_some_and(|s| s == p.solution_stack())
            || arn.is_some_and(|a| {
                a.rsplit_once("::platform/")
                    .is_some_and(|(_, tail)| tail == format!("{}/{}", p.branch(), p.version))
            })
    })
}

/// Applies one `ListPlatformVersions` filter (`Type`, `Operator`, `Values`).
pub(crate) fn matches(
    p: &Platform,
    kind: &str,
    op: &str,
    values: &[String],
) -> Result<bool, String> {
    if kind == "SupportedTier" || kind == "SupportedAddon" {
        let list = if kind == "SupportedTier" {
            SUPPORTED_TIERS
        } else {
            SUPPORTED_ADDONS
        };
        let hit = values.iter().any(|v| list.contains(&v.as_str()));
        return match op {
            "=" | "contains" => Ok(hit),
            "!=" => Ok(!hit),
            _ => Err(format!(
                "Operator {op} is not valid for filter type {kind}."
            )),
        };
    }
    let Some(have) = p.filter_value(kind) else {
        return Err(format!("Filter type {kind} is not supported."));
    };
    let any = |f: &dyn Fn(&str) -> bool| values.iter().any(|v| f(v));
    Ok(match op {
        "=" => any(&|v| have == v),
        "!=" => !any(&|v| have == v),
        "contains" => any(&|v| have.contains(v)),
        "begins_with" => any(&|v| have.starts_with(v)),
        "ends_with" => any(&|v| have.ends_with(v)),
        "<" | "<=" | ">" | ">=" if kind == "PlatformVersion" => any(&|v| {
            let (a, b) = (version_key(&have), version_key(v));
            match op {
                "<" => a < b,
                "<=" => a <= b,
                ">" => a > b,
                _ => a >= b,
            }
        }),
        _ => {
            return Err(format!(
                "Operator {op} is not valid for filter type {kind}."
            ));
        }
    })
}

fn version_key(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_service() {
        let p = find(
            Some("64bit Amazon Linux 2023 v4.7.3 running Python 3.12"),
            None,
        )
        .unwrap();
        assert_eq!(
            p.arn("us-east-1"),
            "arn:aws:elasticbeanstalk:us-east-1::platform/Python 3.12 running on 64bit Amazon Linux 2023/4.7.3"
        );
        assert_eq!(find(None, Some(&p.arn("eu-west-1"))), Some(p));
        assert_eq!(
            find(Some("64bit Amazon Linux 2 v3.0.0 running Python 3.7"), None),
            None
        );
    }

    #[test]
    fn filters() {
        let p = find(
            Some("64bit Amazon Linux 2023 v4.7.2 running Python 3.11"),
            None,
        )
        .unwrap();
        let v = |s: &str| vec![s.to_string()];
        let cases: &[(&str, &str, &str, bool)] = &[
            (
                "PlatformBranchName",
                "=",
                "Python 3.11 running on 64bit Amazon Linux 2023",
                true,
            ),
            ("PlatformBranchName", "begins_with", "Python 3.12", false),
            ("PlatformVersion", "<", "4.7.3", true),
            ("PlatformVersion", ">=", "4.10.0", false),
            ("PlatformLifecycleState", "=", "Recommended", false),
            ("SupportedTier", "=", "WebServer/Standard", true),
            ("PlatformStatus", "!=", "Ready", false),
        ];
        for (kind, op, val, want) in cases {
            assert_eq!(
                matches(&p, kind, op, &v(val)).unwrap(),
                *want,
                "{kind} {op} {val}"
            );
        }
        assert!(
            matches(&p, "Nope", "=", &v("x"))
                .unwrap_err()
                .contains("Nope")
        );
        assert!(
            matches(&p, "PlatformName", "<", &v("x"))
                .unwrap_err()
                .contains("<")
        );
    }
}
