//! Properties of the rule set over generated inputs.

use deploykit_secretrules::{
    MASK, Rule, classify_path, is_secret_name, mask, mask_if_secret, scan_content,
};
use proptest::prelude::*;

proptest! {
    /// A masked plain value shows nothing of it, whatever its length.
    #[test]
    fn mask_hides_plain_values(v in "[A-Za-z0-9!@#%^&*()_+=-]{1,64}") {
        prop_assume!(!v.contains("://"));
        prop_assert_eq!(mask(&v), MASK);
    }

    /// A masked URL never shows its password, and keeps its user and host.
    #[test]
    fn mask_hides_url_passwords(
        user in "[a-z]{1,10}",
        pw in "[0-9A-Z]{6,20}",
        host in "[a-z]{1,10}\\.example",
        db in "[a-z]{1,8}",
    ) {
        let url = format!("postgresql://{user}:{pw}@{host}:5432/{db}");
        let m = mask(&url);
        prop_assert!(!m.contains(&pw), "{}", m);
        prop_assert_eq!(m, format!("postgresql://{user}:{MASK}@{host}:5432/{db}"));
        prop_assert!(!mask_if_secret("ANY_NAME", &url).contains(&pw));
    }

    /// Upper- and lower-case spellings of a snake-case name get the same verdict.
    #[test]
    fn secret_names_ignore_case(
        words in prop::collection::vec(
            prop::sample::select(vec![
                "DB", "PASS", "KEY", "MONKEY", "API", "TOKEN", "URL", "DATABASE", "APP", "ENV",
                "PREFIX", "SECRET", "PUBLIC", "ID", "KEYBOARD", "LAYOUT", "DSN",
            ]),
            1..5,
        ),
    ) {
        let name = words.join("_");
        prop_assert_eq!(is_secret_name(&name), is_secret_name(&name.to_ascii_lowercase()), "{}", name);
    }

    /// Path rules are case-insensitive.
    #[test]
    fn paths_ignore_case(
        dirs in prop::collection::vec(
            prop::sample::select(vec!["app", "config", ".ssh", ".aws", ".docker", "Certs", "lib"]),
            0..3,
        ),
        base in prop::sample::select(vec![
            ".env", ".env.example", "credentials", "config.json", "id_rsa", "tls.key",
            "app.py", ".npmrc", "server.pem", "README.md", ".envrc",
        ]),
    ) {
        let mut parts: Vec<&str> = dirs;
        parts.push(base);
        let p = parts.join("/");
        let rule = |s: &str| classify_path(s).map(|f| f.rule);
        prop_assert_eq!(rule(&p), rule(&p.to_ascii_uppercase()), "{}", p);
    }

    /// A planted access key id is found at its offset and line in any text around it, and no
    /// finding carries it.
    #[test]
    fn planted_key_is_found_and_never_echoed(
        before in "[a-z \\n]{0,200}",
        after in "[a-z \\n]{0,200}",
        tail in "[A-Z2-7]{16}",
    ) {
        let key = format!("AKIA{tail}");
        let text = format!("{before} {key} {after}");
        let found = scan_content(text.as_bytes());
        let hit = found.iter().find(|f| f.rule == Rule::AwsAccessKeyId);
        prop_assert!(hit.is_some(), "{:?}", found);
        let hit = hit.expect("checked");
        prop_assert_eq!(hit.offset, Some(before.len() + 1));
        prop_assert_eq!(hit.line, Some(1 + before.matches('\n').count()));
        for f in &found {
            prop_assert!(!f.matched.contains(&tail));
            prop_assert!(!f.to_string().contains(&tail));
        }
    }

    /// Arbitrary bytes never panic, and offsets stay inside the input.
    #[test]
    fn any_bytes_scan(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        for f in scan_content(&bytes) {
            prop_assert!(f.offset.is_some_and(|o| o < bytes.len()));
        }
    }
}
