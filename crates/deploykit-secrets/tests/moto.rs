//! `Secrets::resolve` and `list_refs` against the local cloud's Secrets Manager (moto).

use deploykit_secrets::{MissingReason, SecretString, Secrets, SecretsError};
use deploykit_testsupport::{local_cloud, unique_name};

fn has_suffix(arn: &str, name: &str) -> bool {
    // arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 chars>
    let Some(rest) = arn.split(":secret:").nth(1) else {
        return false;
    };
    let Some(suffix) = rest.strip_prefix(name).and_then(|r| r.strip_prefix('-')) else {
        return false;
    };
    suffix.len() == 6 && suffix.chars().all(|c| c.is_ascii_alphanumeric())
}

#[tokio::test]
async fn resolve_returns_real_arns_and_refuses_every_missing_reference() {
    let cloud = local_cloud().await;
    let secrets = Secrets::new(&cloud.sdk_config());
    let base = unique_name("sec");
    let a = format!("{base}/app/secret-key");
    let b = format!("{base}/app/database-url");
    for name in [&a, &b] {
        secrets
            .put_string(name, &SecretString::from("s3cr3t-value"), "test")
            .await
            .unwrap();
    }

    // By name: the real ARN with Secrets Manager's suffix.
    let refs = vec![
        ("SECRET_KEY".to_string(), a.clone()),
        ("DATABASE_URL".to_string(), b.clone()),
    ];
    let resolved = secrets.resolve(&refs).await.unwrap();
    assert_eq!(resolved.len(), 2);
    assert_eq!(resolved[0].env_var, "SECRET_KEY");
    assert_eq!(resolved[0].name, a);
    assert!(has_suffix(&resolved[0].arn, &a), "{}", resolved[0].arn);
    assert!(has_suffix(&resolved[1].arn, &b), "{}", resolved[1].arn);
    assert!(resolved[0].last_changed.is_some());

    // By ARN: the same secret.
    let by_arn = secrets
        .resolve(&[("SECRET_KEY".to_string(), resolved[0].arn.clone())])
        .await
        .unwrap();
    assert_eq!(by_arn[0].arn, resolved[0].arn);
    assert_eq!(by_arn[0].name, a);

    // Every missing reference is listed, the present one is not.
    let gone1 = format!("{base}/app/never-created");
    let gone2 = format!("{base}/app/also-missing");
    let refs = vec![
        ("SECRET_KEY".to_string(), a.clone()),
        ("MISSING_ONE".to_string(), gone1.clone()),
        ("MISSING_TWO".to_string(), gone2.clone()),
    ];
    let err = secrets.resolve(&refs).await.unwrap_err();
    let SecretsError::Missing { missing } = &err else {
        panic!("expected Missing, got {err}");
    };
    let names: Vec<_> = missing
        .iter()
        .map(|m| (m.env_var.as_str(), m.reference.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("MISSING_ONE", gone1.as_str()),
            ("MISSING_TWO", gone2.as_str())
        ]
    );
    let msg = err.to_string();
    assert!(msg.contains(&gone1) && msg.contains(&gone2), "{msg}");
    let help = deploykit_report::Diagnostic::help(&err).unwrap_or_default();
    assert!(
        help.contains(&format!("create the secret `{gone1}` in Secrets Manager"))
            && help.contains(&gone2),
        "{help}"
    );
    for text in [&msg, &help] {
        assert!(!text.contains(&a), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
    }

    // list_refs reports instead of failing.
    let listed = secrets.list_refs(&refs).await.unwrap();
    assert!(listed[0].is_ok());
    assert!(listed[1].is_err() && listed[2].is_err());

    // A secret scheduled for deletion cannot be read: missing, with that reason.
    let sm = aws_sdk_secretsmanager::Client::new(&cloud.sdk_config());
    sm.delete_secret()
        .secret_id(&b)
        .recovery_window_in_days(7)
        .send()
        .await
        .unwrap();
    let err = secrets
        .resolve(&[("DATABASE_URL".to_string(), b.clone())])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.missing()[0].reason,
            MissingReason::ScheduledForDeletion { .. }
        ),
        "{err}"
    );
    // Deleted for good: not found.
    sm.delete_secret()
        .secret_id(&a)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    let err = secrets
        .resolve(&[("SECRET_KEY".to_string(), a.clone())])
        .await
        .unwrap_err();
    assert_eq!(err.missing()[0].reason, MissingReason::NotFound, "{err}");
    assert!(err.to_string().contains(&a));
}
