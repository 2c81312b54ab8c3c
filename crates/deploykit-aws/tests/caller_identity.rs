//! `caller_identity` against the local cloud's STS (moto answers for its fixed account).

#[tokio::test]
async fn caller_identity_names_the_account_and_principal() {
    let cloud = deploykit_testsupport::local_cloud().await;
    let me = deploykit_aws::caller_identity(&cloud.sdk_config())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(me.account.len(), 12, "{me:?}");
    assert!(me.account.chars().all(|c| c.is_ascii_digit()), "{me:?}");
    assert_eq!(
        me.account, cloud.account_id,
        "moto and the edge share one account"
    );
    assert!(me.arn.starts_with("arn:aws:"), "{me:?}");
    assert!(me.arn.contains(&me.account), "{me:?}");
    assert!(me.check_account(Some(&me.account)).is_ok());
    assert!(me.check_account(Some("111122223333")).is_err());
}
