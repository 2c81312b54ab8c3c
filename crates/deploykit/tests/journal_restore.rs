//! The in-flight journal keeps what an EB rollback restores (the settings as they were before
//! the deploy), except values of secret-looking variables, which never reach the disk.

use deploykit::journal::{self, InFlight};
use deploykit_eb::{NS_ENV, NS_LAUNCH, Setting, SettingsUndo};

#[test]
fn the_journal_keeps_the_settings_to_restore_but_no_secret_value() {
    let root = tempfile::tempdir().unwrap();
    let canary = "canary-5f1e0c-secret-value";
    let restore = SettingsUndo {
        restore: vec![
            Setting::new(NS_ENV, "S3_BUCKET", "uploads"),
            Setting::new(NS_LAUNCH, "InstanceType", "t3.micro"),
            Setting::new(NS_ENV, "STRIPE_API_KEY", canary),
        ],
        remove: vec![Setting::new(NS_ENV, "ADDED", "")],
    };
    let entry = InFlight::new("dev", "eb", "app-dev", "app-v2", Some("app-v1".into()))
        .with_restore(&restore);
    let path = journal::write(root.path(), &entry).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(canary), "{text}");
    assert!(text.contains("uploads") && text.contains("ADDED"), "{text}");

    let back = journal::read(root.path(), "dev", "app-dev")
        .unwrap()
        .unwrap();
    let (resume, unknown) = back.resume().expect("a previous version");
    assert_eq!(
        (resume.deploying.as_str(), resume.previous.as_str()),
        ("app-v2", "app-v1")
    );
    assert_eq!(resume.restore.restore, restore.restore[..2].to_vec());
    assert_eq!(resume.restore.remove, restore.remove);
    assert_eq!(unknown, vec!["STRIPE_API_KEY".to_string()]);

    // Nothing to restore: nothing written; a first deploy has nothing to resume.
    let plain = InFlight::new("dev", "eb", "app-dev", "app-v2", None)
        .with_restore(&SettingsUndo::default());
    assert!(plain.restore.is_none());
    assert!(plain.resume().is_none());
}
