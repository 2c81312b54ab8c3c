//! AWS naming rules and small value parsers. Each check returns `Err(why)` with a sentence that
//! says what is wrong; callers add the field, location and fix. Public so that other crates
//! (and `eb env set`) validate command-line input with the same rules.

use std::time::Duration;

fn all(s: &str, f: impl Fn(char) -> bool) -> bool {
    s.chars().all(f)
}

fn len_between(what: &str, s: &str, min: usize, max: usize) -> Result<(), String> {
    let n = s.chars().count();
    if n < min || n > max {
        return Err(format!(
            "{what} must be {min}-{max} characters long, `{s}` has {n}"
        ));
    }
    Ok(())
}

/// Elastic Beanstalk environment name: 4-40 characters, letters, digits and hyphens, no
/// leading or trailing hyphen.
pub fn eb_environment_name(s: &str) -> Result<(), String> {
    len_between("an Elastic Beanstalk environment name", s, 4, 40)?;
    if !all(s, |c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(format!(
            "an Elastic Beanstalk environment name may contain only letters, digits and hyphens, `{s}` does not"
        ));
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err(format!(
            "an Elastic Beanstalk environment name cannot start or end with a hyphen: `{s}`"
        ));
    }
    Ok(())
}

/// Elastic Beanstalk application name: 1-100 characters, no `/`.
pub fn eb_application_name(s: &str) -> Result<(), String> {
    len_between("an Elastic Beanstalk application name", s, 1, 100)?;
    if s.contains('/') || s.chars().any(char::is_control) {
        return Err(format!(
            "an Elastic Beanstalk application name cannot contain `/` or control characters: `{s}`"
        ));
    }
    Ok(())
}

/// App Runner service name: `[A-Za-z0-9][A-Za-z0-9-_]{3,39}`.
pub fn apprunner_service_name(s: &str) -> Result<(), String> {
    len_between("an App Runner service name", s, 4, 40)?;
    let first_ok = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok || !all(s, |c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(format!(
            "an App Runner service name must start with a letter or digit and contain only letters, digits, `-` and `_`: `{s}`"
        ));
    }
    Ok(())
}

/// RDS DB instance identifier: 1-63 characters, letter first, letters/digits/hyphens, no two
/// consecutive hyphens, no trailing hyphen.
pub fn rds_instance_identifier(s: &str) -> Result<(), String> {
    len_between("an RDS DB instance identifier", s, 1, 63)?;
    if !s.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) {
        return Err(format!(
            "an RDS DB instance identifier must start with a letter: `{s}`"
        ));
    }
    if !all(s, |c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(format!(
            "an RDS DB instance identifier may contain only letters, digits and hyphens: `{s}`"
        ));
    }
    if s.contains("--") || s.ends_with('-') {
        return Err(format!(
            "an RDS DB instance identifier cannot contain two consecutive hyphens or end with a hyphen: `{s}`"
        ));
    }
    Ok(())
}

/// S3 general purpose bucket name rules.
pub fn s3_bucket_name(s: &str) -> Result<(), String> {
    len_between("an S3 bucket name", s, 3, 63)?;
    if !all(s, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-'
    }) {
        return Err(format!(
            "an S3 bucket name may contain only lowercase letters, digits, dots and hyphens: `{s}`"
        ));
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !edge_ok(s.chars().next()) || !edge_ok(s.chars().last()) {
        return Err(format!(
            "an S3 bucket name must start and end with a letter or digit: `{s}`"
        ));
    }
    if s.contains("..") || s.contains(".-") || s.contains("-.") {
        return Err(format!(
            "an S3 bucket name cannot contain `..`, `.-` or `-.`: `{s}`"
        ));
    }
    if s.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err(format!(
            "an S3 bucket name cannot look like an IP address: `{s}`"
        ));
    }
    for p in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if s.starts_with(p) {
            return Err(format!("an S3 bucket name cannot start with `{p}`: `{s}`"));
        }
    }
    for suf in ["-s3alias", "--ol-s3", "--x-s3", "--table-s3", ".mrap"] {
        if s.ends_with(suf) {
            return Err(format!("an S3 bucket name cannot end with `{suf}`: `{s}`"));
        }
    }
    Ok(())
}

/// ECR repository name: 2-256 characters, lowercase path components separated by `/`, each
/// made of `[a-z0-9]` runs joined by single `.`, `_` or `-`.
pub fn ecr_repository_name(s: &str) -> Result<(), String> {
    len_between("an ECR repository name", s, 2, 256)?;
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.split(['.', '_', '-']).all(|run| {
                !run.is_empty() && all(run, |ch| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            })
    };
    if !s.split('/').all(component_ok) {
        return Err(format!(
            "an ECR repository name must be lowercase letters and digits, optionally separated by single `.`, `_`, `-` or `/`: `{s}`"
        ));
    }
    Ok(())
}

/// Regions known to this release; used only to suggest a correction for a typo. A region
/// that is well formed but not listed is accepted.
pub const KNOWN_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-1",
    "ap-south-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "mx-central-1",
    "sa-east-1",
    "us-gov-east-1",
    "us-gov-west-1",
    "cn-north-1",
    "cn-northwest-1",
];

/// AWS region code: `xx-word-N` or `xx-gov-word-N` style, lowercase.
/// An IAM role name: 1-64 of letters, digits and `+=,.@_-`.
pub fn iam_role_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

pub fn region(s: &str) -> Result<(), String> {
    let parts: Vec<&str> = s.split('-').collect();
    let ok = (3..=4).contains(&parts.len())
        && parts[0].len() == 2
        && all(parts[0], |c| c.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && all(p, |c| c.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|p| !p.is_empty() && p.len() <= 2 && all(p, |c| c.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not an AWS region code (like `us-east-1`)"
        ))
    }
}

/// A DNS name App Runner accepts as a custom domain: 1-253 characters, at least two labels of
/// 1-63 letters, digits and hyphens (no leading or trailing hyphen), an optional trailing dot.
/// `*.example.com` is accepted (App Runner associates wildcard domains).
pub fn domain_name(s: &str) -> Result<(), String> {
    let d = s.strip_suffix('.').unwrap_or(s);
    let d = d.strip_prefix("*.").unwrap_or(d);
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && !l.starts_with('-')
            && !l.ends_with('-')
            && all(l, |c| c.is_ascii_alphanumeric() || c == '-')
    };
    if (1..=253).contains(&d.len()) && d.contains('.') && d.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a domain name: it needs two or more dot-separated labels of letters, digits and hyphens (like `app.example.com`)"
        ))
    }
}

/// A Route 53 hosted zone id (`Z0123456789ABCDEFGHIJ`, optionally `/hostedzone/...`):
/// 1-32 uppercase letters and digits.
pub fn hosted_zone_id(s: &str) -> Result<(), String> {
    let id = s.strip_prefix("/hostedzone/").unwrap_or(s);
    if (1..=32).contains(&id.len()) && all(id, |c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a Route 53 hosted zone id (uppercase letters and digits, like `Z0123456789ABCDEFGHIJ`)"
        ))
    }
}

/// Parses a human duration such as `20m`, `90s`, `1h30m`, `1h 30m`, `500ms`.
pub fn duration(s: &str) -> Result<Duration, String> {
    let bad = || {
        format!("`{s}` is not a duration; write a number with a unit, like `90s`, `20m` or `1h30m`")
    };
    let t = s.trim();
    if t.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        rest = rest.trim_start();
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.chars().take_while(|c| c.is_ascii_alphabetic()).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let secs = |mult: u64| n.checked_mul(mult).map(Duration::from_secs);
        let d = match unit {
            "ms" => Some(Duration::from_millis(n)),
            "s" | "sec" | "secs" | "second" | "seconds" => secs(1),
            "m" | "min" | "mins" | "minute" | "minutes" => secs(60),
            "h" | "hr" | "hrs" | "hour" | "hours" => secs(3600),
            "d" | "day" | "days" => secs(86_400),
            _ => None,
        }
        .ok_or_else(bad)?;
        total = total.checked_add(d).ok_or_else(bad)?;
    }
    if total.is_zero() {
        return Err(format!(
            "`{s}` is zero; a wait needs a positive bound like `20m`"
        ));
    }
    Ok(total)
}

/// Edit distance counting insertions, deletions, substitutions and adjacent transpositions
/// (optimal string alignment), for "did you mean" suggestions.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// The closest candidate to `word`, if it is close enough to be a plausible typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| {
            (
                edit_distance(&word.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_table() {
        type Check = fn(&str) -> Result<(), String>;
        let cases: &[(Check, &str, bool)] = &[
            (eb_environment_name, "budgetsync-dev", true),
            (eb_environment_name, "abc", false),
            (eb_environment_name, "-budget", false),
            (eb_environment_name, "budget_sync", false),
            (eb_environment_name, &"a".repeat(41), false),
            (eb_application_name, "budgetsync", true),
            (eb_application_name, "a/b", false),
            (eb_application_name, "", false),
            (apprunner_service_name, "budget_sync-1", true),
            (apprunner_service_name, "_bud", false),
            (apprunner_service_name, "bud", false),
            (rds_instance_identifier, "budgetsync-db", true),
            (rds_instance_identifier, "1db", false),
            (rds_instance_identifier, "db--x", false),
            (rds_instance_identifier, "db-", false),
            (s3_bucket_name, "budgetsync-assets", true),
            (s3_bucket_name, "Budget", false),
            (s3_bucket_name, "a..b", false),
            (s3_bucket_name, "192.168.1.1", false),
            (s3_bucket_name, "xn--abc", false),
            (s3_bucket_name, "abc-s3alias", false),
            (s3_bucket_name, "ab", false),
            (ecr_repository_name, "budgetsync", true),
            (ecr_repository_name, "team/budget-sync", true),
            (ecr_repository_name, "Budget", false),
            (ecr_repository_name, "a//b", false),
            (ecr_repository_name, "a--", false),
            (region, "us-east-1", true),
            (region, "us-gov-west-1", true),
            (region, "us-east1", false),
            (region, "US-EAST-1", false),
        ];
        for (check, input, ok) in cases {
            assert_eq!(check(input).is_ok(), *ok, "{input:?}: {:?}", check(input));
        }
    }

    #[test]
    fn durations() {
        assert_eq!(duration("20m"), Ok(Duration::from_secs(1200)));
        assert_eq!(duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        for bad in ["", "20", "m", "20 parsecs", "0s", "-5m"] {
            assert!(duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest("instnce_type", ["instance_type", "platform"]),
            Some("instance_type")
        );
        assert_eq!(suggest("zzz", ["instance_type"]), None);
        assert_eq!(suggest("prdo", ["prod", "dev"]), Some("prod"));
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(
            suggest("us-east1", KNOWN_REGIONS.iter().copied()),
            Some("us-east-1")
        );
    }
}
