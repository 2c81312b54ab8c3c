//! [`Diagnostic`] for [`IamError`]: its class and plain advice.

use deploykit_aws::ErrorKind;
use deploykit_report::{Category, Diagnostic};

use crate::IamError;

impl Diagnostic for IamError {
    fn category(&self) -> Category {
        match self {
            IamError::Aws { classified, .. } => classified.category(),
            IamError::BadDocument { .. } => Category::Internal,
            IamError::NoSuchManagedPolicy { .. } => Category::Input,
        }
    }

    fn help(&self) -> Option<String> {
        Some(advice(self).to_string())
    }
}

/// The advice of [`IamError`]: IAM's own codes first, then the classification's.
fn advice(e: &IamError) -> &'static str {
    match e {
        IamError::Aws { classified, .. } => match classified.kind {
            ErrorKind::NotFound if classified.code.as_deref() == Some("NoSuchEntity") => {
                "a policy, role or profile named here does not exist in this account; for an AWS managed policy, check its ARN (service-role/ path included)"
            }
            ErrorKind::Validation
                if classified.code.as_deref() == Some("MalformedPolicyDocument") =>
            {
                "IAM rejected a policy document; check the secret ARNs and bucket name it was built from"
            }
            _ => classified.help(),
        },
        IamError::BadDocument { .. } => {
            "the role's policy was changed outside deploykit into something unreadable; fix or delete it in the IAM console and run again"
        }
        IamError::NoSuchManagedPolicy { .. } => {
            "check the policy ARN (AWS managed policies live under arn:aws:iam::aws:policy/, some under service-role/); on the local cloud, moto must be started with MOTO_IAM_LOAD_MANAGED_POLICIES=true"
        }
    }
}

#[cfg(test)]
mod tests {
    use deploykit_aws::Classified;

    use super::*;

    fn aws(kind: ErrorKind, code: &str) -> IamError {
        IamError::Aws {
            operation: "AttachRolePolicy",
            subject: "budgetsync-eb-ec2".into(),
            classified: Box::new(Classified {
                kind,
                code: Some(code.into()),
                message: None,
                request_id: None,
            }),
        }
    }

    #[test]
    fn category_and_help_per_variant() {
        let cases: Vec<(IamError, Category, &str)> = vec![
            (
                aws(ErrorKind::NotFound, "NoSuchEntity"),
                Category::Aws,
                "service-role/ path included",
            ),
            (
                aws(ErrorKind::Validation, "MalformedPolicyDocument"),
                Category::Aws,
                "IAM rejected a policy document",
            ),
            (
                aws(ErrorKind::AccessDenied, "AccessDenied"),
                Category::Aws,
                ErrorKind::AccessDenied.help(),
            ),
            (
                aws(ErrorKind::Validation, "InvalidInput"),
                Category::Aws,
                ErrorKind::Validation.help(),
            ),
            (
                IamError::BadDocument {
                    role: "budgetsync-eb-ec2".into(),
                    what: "inline policy",
                },
                Category::Internal,
                "IAM console",
            ),
            (
                IamError::NoSuchManagedPolicy {
                    role: "budgetsync-eb-ec2".into(),
                    policy_arn: "arn:aws:iam::aws:policy/AWSElasticBeanstalkWebTier".into(),
                },
                Category::Input,
                "MOTO_IAM_LOAD_MANAGED_POLICIES",
            ),
        ];
        for (err, category, words) in &cases {
            assert_eq!(err.category(), *category, "{err:?}");
            let help = err.help().unwrap_or_default();
            assert!(
                help.contains(words),
                "{err:?}: help {help:?} lacks {words:?}"
            );
            assert!(!help.contains("xtask"), "{help}");
        }
        // Display keeps the facts: operation, role, code.
        let s = aws(ErrorKind::NotFound, "NoSuchEntity").to_string();
        for fact in ["AttachRolePolicy", "budgetsync-eb-ec2", "NoSuchEntity"] {
            assert!(s.contains(fact), "{s} lacks {fact}");
        }
    }
}
