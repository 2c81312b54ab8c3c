//! The remote half of the deploy lock: tags on the EB environment, App Runner service or ECS
//! Express service, so two machines (two laptops, a laptop and CI) never deploy to it, or roll
//! it back, at once.
//!
//! Three tags (`deploykit:lock-owner` = `user@host`, `deploykit:lock-expires` = RFC 3339 UTC,
//! `deploykit:lock-what` = what runs) are written at the start of an apply, after the local
//! file lock ([`crate::lock`]), and removed at its end, however it ends (a rollback included);
//! `rollback eb|apprunner|ecs` takes and releases them the same way. A first deploy sends
//! them with CreateEnvironment / CreateService / CreateExpressGatewayService. [`decide`] is the pure
//! decision: a fresh lock of another owner refuses the deploy ([`Error::LockedRemote`],
//! CheckFailed); an expired one is taken over with a warning; one of ours (left by an
//! interrupted run of this user on this host, which the local lock already serialises) is
//! taken back; `force` breaks a fresh foreign one with a warning. After writing, the tags are
//! read back: a taker that lost a race sees the other owner and refuses.
//!
//! Tag values use only letters, digits, spaces and `_ . : / = + - @` (the services' rule).

use std::collections::BTreeMap;
use std::time::Duration;

use deploykit_apprunner::ContainerPlatform;
use deploykit_report::{Event, Reporter};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::{Error, Result};

pub const TAG_OWNER: &str = "deploykit:lock-owner";
pub const TAG_EXPIRES: &str = "deploykit:lock-expires";
pub const TAG_WHAT: &str = "deploykit:lock-what";

/// Who holds a remote lock, as its tags say.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RemoteHolder {
    /// `user@host`.
    pub owner: String,
    /// RFC 3339, UTC.
    pub expires: String,
    /// What runs: `deploy eb budgetsync-dev budgetsync-3f2a...`.
    pub what: String,
}

impl std::fmt::Display for RemoteHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}, until {})", self.owner, self.what, self.expires)
    }
}

/// Only the characters the three services allow in tag values, at most 256 of them.
pub fn tag_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(256)
        .collect()
}

impl RemoteHolder {
    /// This process's lock for `what`, expiring `ttl` from `now`.
    pub fn mine(what: &str, now: OffsetDateTime, ttl: Duration) -> RemoteHolder {
        let expires = now + ttl;
        RemoteHolder {
            owner: me(),
            expires: expires
                .replace_nanosecond(0)
                .ok()
                .and_then(|t| t.format(&Rfc3339).ok())
                .unwrap_or_default(),
            what: tag_safe(what),
        }
    }

    /// The holder the tags name, if they name one.
    pub fn from_tags(tags: &BTreeMap<String, String>) -> Option<RemoteHolder> {
        Some(RemoteHolder {
            owner: tags.get(TAG_OWNER)?.clone(),
            expires: tags.get(TAG_EXPIRES).cloned().unwrap_or_default(),
            what: tags.get(TAG_WHAT).cloned().unwrap_or_default(),
        })
    }

    /// The three tags.
    pub fn tags(&self) -> BTreeMap<String, String> {
        [
            (TAG_OWNER.to_string(), self.owner.clone()),
            (TAG_EXPIRES.to_string(), self.expires.clone()),
            (TAG_WHAT.to_string(), self.what.clone()),
        ]
        .into()
    }

    /// Whether the lock has expired at `now` (an unreadable expiry counts as expired).
    pub fn expired(&self, now: OffsetDateTime) -> bool {
        OffsetDateTime::parse(&self.expires, &Rfc3339).map_or(true, |t| t <= now)
    }
}

/// The keys the lock is kept in.
pub fn tag_keys() -> Vec<String> {
    vec![TAG_OWNER.into(), TAG_EXPIRES.into(), TAG_WHAT.into()]
}

/// `user@host` of this process, tag-safe.
pub fn me() -> String {
    let o = crate::lock::Owner::current("");
    tag_safe(&format!("{}@{}", o.user, o.host))
}

/// What to do about the lock tags found on the resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No lock: take it.
    Take,
    /// Ours (left by an interrupted run of this user on this host): take it back.
    Ours(RemoteHolder),
    /// Someone else's, expired: take it over with a warning.
    TakeOver(RemoteHolder),
    /// Someone else's, fresh, and `force`: break it with a warning.
    Break(RemoteHolder),
    /// Someone else's, fresh: refuse.
    Refuse(RemoteHolder),
}

/// The pure decision over what the tags say.
pub fn decide(
    found: Option<&RemoteHolder>,
    me: &str,
    now: OffsetDateTime,
    force: bool,
) -> Decision {
    match found {
        None => Decision::Take,
        Some(h) if h.owner == me => Decision::Ours(h.clone()),
        Some(h) if h.expired(now) => Decision::TakeOver(h.clone()),
        Some(h) if force => Decision::Break(h.clone()),
        Some(h) => Decision::Refuse(h.clone()),
    }
}

/// Applies a [`Decision`]: `Ok` to write our tags, or the refusal; warnings reported.
pub fn judge(decision: Decision, target: &str, name: &str, r: &dyn Reporter) -> Result<()> {
    match decision {
        Decision::Take => Ok(()),
        Decision::Ours(h) => {
            r.report(Event::info(format!(
                "the remote deploy lock of {name} was left by an earlier run from this machine ({h}); taking it back"
            )));
            Ok(())
        }
        Decision::TakeOver(h) => {
            r.report(Event::warn(format!(
                "the remote deploy lock of {name} held by {h} has expired; taking it over (if that deploy still runs, it no longer holds the lock)"
            )));
            Ok(())
        }
        Decision::Break(h) => {
            r.report(Event::warn(format!(
                "breaking the remote deploy lock of {name} held by {h} (force-unlock); if that deploy still runs, two deploys now change {name}"
            )));
            Ok(())
        }
        Decision::Refuse(h) => Err(Error::LockedRemote {
            target: target.to_string(),
            name: name.to_string(),
            holder: Box::new(h),
        }),
    }
}

/// After writing our tags: the tags read back must name us, or another taker won the race.
pub fn confirm(
    read_back: &BTreeMap<String, String>,
    mine: &RemoteHolder,
    target: &str,
    name: &str,
) -> Result<()> {
    match RemoteHolder::from_tags(read_back) {
        Some(h) if h.owner == mine.owner && h.expires == mine.expires => Ok(()),
        Some(h) => Err(Error::LockedRemote {
            target: target.to_string(),
            name: name.to_string(),
            holder: Box::new(h),
        }),
        None => Err(Error::LockedRemote {
            target: target.to_string(),
            name: name.to_string(),
            holder: Box::new(RemoteHolder {
                owner: "unknown (the lock tags vanished while being taken)".into(),
                expires: String::new(),
                what: String::new(),
            }),
        }),
    }
}

/// Error codes with which an endpoint says it has no tagging operation at all (an older
/// local cloud): the remote lock is then skipped with a warning; AWS always has them.
const UNSUPPORTED_CODES: &[&str] = &["InvalidAction", "UnknownOperationException"];

fn unsupported(e: &Error) -> bool {
    let code = match e {
        Error::Eb(eb) => match eb.as_ref() {
            deploykit_eb::EbError::Aws { error, .. } => error.code.as_deref(),
            _ => None,
        },
        Error::Platform(p) => match p.as_ref() {
            deploykit_apprunner::AppRunnerError::Aws { classified, .. }
            | deploykit_apprunner::AppRunnerError::EcsAws { classified, .. } => {
                classified.code.as_deref()
            }
            _ => None,
        },
        _ => None,
    };
    code.is_some_and(|c| UNSUPPORTED_CODES.contains(&c))
}

fn skipped(name: &str, e: &Error, r: &dyn Reporter) {
    r.report(Event::warn(format!(
        "the remote deploy lock of {name} is skipped: this endpoint has no tagging ({e}); only the local lock guards this deploy"
    )));
}

/// How long a remote lock lives when its taker dies without releasing it: the apply's waits
/// plus a margin for building, uploading and pushing.
pub fn ttl_for(waits: Duration) -> Duration {
    waits + Duration::from_secs(30 * 60)
}

/// Takes the remote lock of the EB environment of `t` for `what` (see the module docs).
/// When the environment does not exist yet, nothing is sent: the returned holder's tags go
/// into CreateEnvironment (`EbTarget::create_tags`).
pub async fn acquire_eb(
    eb: &deploykit_eb::Eb,
    t: &deploykit_eb::EbTarget,
    target: &str,
    what: &str,
    ttl: Duration,
    force: bool,
    r: &dyn Reporter,
) -> Result<RemoteHolder> {
    let mine = RemoteHolder::mine(what, OffsetDateTime::now_utc(), ttl);
    let Some(arn) = eb.environment_arn(t).await? else {
        return Ok(mine);
    };
    let found = match eb.tags(&arn).await.map_err(Error::from) {
        Ok(tags) => RemoteHolder::from_tags(&tags),
        Err(e) if unsupported(&e) => {
            skipped(&t.environment, &e, r);
            return Ok(mine);
        }
        Err(e) => return Err(e),
    };
    let now = OffsetDateTime::now_utc();
    judge(
        decide(found.as_ref(), &mine.owner, now, force),
        target,
        &t.environment,
        r,
    )?;
    eb.update_tags(&arn, &mine.tags(), &[]).await?;
    confirm(&eb.tags(&arn).await?, &mine, target, &t.environment)?;
    Ok(mine)
}

/// Releases the remote lock of the environment when it is still `mine`; a failure is a
/// warning (the lock then expires by itself).
pub async fn release_eb(
    eb: &deploykit_eb::Eb,
    t: &deploykit_eb::EbTarget,
    mine: &RemoteHolder,
    r: &dyn Reporter,
) {
    let released = async {
        let Some(arn) = eb.environment_arn(t).await? else {
            return Ok::<(), Error>(());
        };
        if RemoteHolder::from_tags(&eb.tags(&arn).await?).as_ref() == Some(mine) {
            eb.update_tags(&arn, &BTreeMap::new(), &tag_keys()).await?;
        }
        Ok(())
    }
    .await;
    if let Err(e) = released
        && !unsupported(&e)
    {
        r.report(Event::warn(format!(
            "the remote deploy lock of {} could not be released ({e}); it expires at {}",
            t.environment, mine.expires
        )));
    }
}

/// The tags of the service `arn` on `platform`.
async fn service_tags(
    platform: &ContainerPlatform,
    name: &str,
    arn: &str,
) -> Result<BTreeMap<String, String>> {
    Ok(match platform {
        ContainerPlatform::AppRunner(c) => {
            deploykit_apprunner::tags::list_tags(c, name, arn).await?
        }
        ContainerPlatform::EcsExpress(e) => e.list_tags(name, arn).await?,
    })
}

/// Adds `tags` to the service `arn` on `platform`.
async fn tag_service(
    platform: &ContainerPlatform,
    name: &str,
    arn: &str,
    tags: &BTreeMap<String, String>,
) -> Result<()> {
    match platform {
        ContainerPlatform::AppRunner(c) => {
            deploykit_apprunner::tags::tag(c, name, arn, tags).await?
        }
        ContainerPlatform::EcsExpress(e) => e.tag(name, arn, tags).await?,
    }
    Ok(())
}

/// Takes the remote lock of the container service `name` on `platform` (App Runner or ECS
/// Express); `arn`: `None` when it does not exist yet, and the holder's tags go into
/// CreateService / CreateExpressGatewayService (`Plan::create_tags`).
#[allow(clippy::too_many_arguments)]
pub async fn acquire_container(
    platform: &ContainerPlatform,
    name: &str,
    arn: Option<&str>,
    target: &str,
    what: &str,
    ttl: Duration,
    force: bool,
    r: &dyn Reporter,
) -> Result<RemoteHolder> {
    let mine = RemoteHolder::mine(what, OffsetDateTime::now_utc(), ttl);
    let Some(arn) = arn else {
        return Ok(mine);
    };
    let found = match service_tags(platform, name, arn).await {
        Ok(tags) => RemoteHolder::from_tags(&tags),
        Err(e) if unsupported(&e) => {
            skipped(name, &e, r);
            return Ok(mine);
        }
        Err(e) => return Err(e),
    };
    let now = OffsetDateTime::now_utc();
    judge(
        decide(found.as_ref(), &mine.owner, now, force),
        target,
        name,
        r,
    )?;
    tag_service(platform, name, arn, &mine.tags()).await?;
    confirm(
        &service_tags(platform, name, arn).await?,
        &mine,
        target,
        name,
    )?;
    Ok(mine)
}

/// Releases the remote lock of the container service `name` when it is still `mine` (a
/// warning when it cannot: the lock then expires by itself).
pub async fn release_container(
    platform: &ContainerPlatform,
    name: &str,
    mine: &RemoteHolder,
    r: &dyn Reporter,
) {
    let released = async {
        let arn = match platform {
            ContainerPlatform::AppRunner(c) => deploykit_apprunner::find_service(c, name).await?,
            ContainerPlatform::EcsExpress(e) => e.find(name).await?,
        }
        .map(|view| view.arn);
        let Some(arn) = arn else {
            return Ok::<(), Error>(());
        };
        if RemoteHolder::from_tags(&service_tags(platform, name, &arn).await?).as_ref()
            == Some(mine)
        {
            match platform {
                ContainerPlatform::AppRunner(c) => {
                    deploykit_apprunner::tags::untag(c, name, &arn, &tag_keys()).await?;
                }
                ContainerPlatform::EcsExpress(e) => e.untag(name, &arn, &tag_keys()).await?,
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = released
        && !unsupported(&e)
    {
        r.report(Event::warn(format!(
            "the remote deploy lock of {name} could not be released ({e}); it expires at {}",
            mine.expires
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> OffsetDateTime {
        OffsetDateTime::parse(s, &Rfc3339).unwrap()
    }

    fn holder(owner: &str, expires: &str) -> RemoteHolder {
        RemoteHolder {
            owner: owner.into(),
            expires: expires.into(),
            what: "deploy eb app-dev app-1".into(),
        }
    }

    #[test]
    fn lock_decisions_as_data() {
        let now = at("2026-12-02T06:00:00Z");
        let fresh = "2026-12-02T06:30:00Z";
        let past = "2026-12-02T05:59:59Z";
        // (found, force, expected decision's name)
        let cases: Vec<(Option<RemoteHolder>, bool, &str)> = vec![
            (None, false, "take"),
            (None, true, "take"),
            (Some(holder("me@laptop", fresh)), false, "ours"),
            (Some(holder("me@laptop", past)), false, "ours"),
            (Some(holder("ci@runner", fresh)), false, "refuse"),
            (Some(holder("ci@runner", fresh)), true, "break"),
            (Some(holder("ci@runner", past)), false, "take-over"),
            (
                Some(holder("ci@runner", "2026-12-02T06:00:00Z")),
                false,
                "take-over",
            ),
            (Some(holder("ci@runner", "garbage")), false, "take-over"),
            // Force changes only a fresh foreign lock: ours stays ours, an expired one is
            // taken over (no "breaking" warning for a lock nobody holds any more).
            (Some(holder("me@laptop", fresh)), true, "ours"),
            (Some(holder("ci@runner", past)), true, "take-over"),
            // Owners compare exactly: another user on this host, or this user elsewhere.
            (Some(holder("me@laptop2", fresh)), false, "refuse"),
            (Some(holder("ci@laptop", fresh)), false, "refuse"),
            (Some(holder("ME@laptop", fresh)), true, "break"),
        ];
        for (found, force, want) in cases {
            let got = match decide(found.as_ref(), "me@laptop", now, force) {
                Decision::Take => "take",
                Decision::Ours(_) => "ours",
                Decision::TakeOver(_) => "take-over",
                Decision::Break(_) => "break",
                Decision::Refuse(_) => "refuse",
            };
            assert_eq!(got, want, "{found:?} force={force}");
        }
    }

    #[test]
    fn a_refusal_names_the_holder_and_the_expiry() {
        let h = holder("ci@runner", "2026-12-02T06:30:00Z");
        let err = judge(
            Decision::Refuse(h),
            "dev",
            "app-dev",
            &deploykit_report::NullReporter,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("ci@runner") && text.contains("2026-12-02T06:30:00Z"),
            "{text}"
        );
        assert_eq!(
            deploykit_report::Diagnostic::category(&err),
            deploykit_report::Category::CheckFailed
        );
    }

    #[test]
    fn tags_round_trip_and_stay_in_the_allowed_characters() {
        let now = at("2026-12-02T06:00:00Z");
        let mine = RemoteHolder::mine(
            "deploy eb app-dev app-1 (git;dirty)",
            now,
            Duration::from_secs(1800),
        );
        assert_eq!(mine.expires, "2026-12-02T06:30:00Z");
        assert!(!mine.what.contains(';') && !mine.what.contains('('));
        let tags = mine.tags();
        assert_eq!(RemoteHolder::from_tags(&tags), Some(mine.clone()));
        assert!(confirm(&tags, &mine, "dev", "app-dev").is_ok());
        let other = holder("ci@runner", "2026-12-02T06:30:00Z").tags();
        assert!(confirm(&other, &mine, "dev", "app-dev").is_err());
        assert!(RemoteHolder::from_tags(&BTreeMap::new()).is_none());
        assert_eq!(tag_safe("a;b{c}"), "a_b_c_");
    }
}
