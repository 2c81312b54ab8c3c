//! Applications, application versions and their lifecycle, storage location and DNS checks.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::page;
use super::steps::terminate_steps;
use super::validate::{
    cname, parse_lifecycle, too_large, validate_app_name, validate_cname_prefix, validate_label,
};
use crate::eb::bundle::{self, Verdict};
use crate::eb::params::{ApiError, ApiResult};
use crate::eb::render;
use crate::eb::state::{App, EnvStatus, Lifecycle, Region, Version};
use crate::eb::{Call, Eb};
use crate::forward::Download;
use crate::xml::Xml;

impl Eb {
    pub(in crate::eb) fn create_application(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
        let name = c.p.req("ApplicationName")?;
        validate_app_name(name)?;
        let description = c.p.get("Description").map(str::to_string);
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 200)
        {
            return Err(ApiError::validation(
                "...",
                "description",
                "Member must have length less than or equal to 200",
            ));
        }
        let lifecycle = parse_lifecycle(&c.p)?.unwrap_or_default();
        let now = self.now();
        self.with_region(c.region, |r| {
            if r.apps.contains_key(name) {
                return Err(ApiError::invalid(format!(
                    "Application {name} already exists."
                )));
            }
            let app = App {
                name: name.to_string(),
                description,
                created: now,
                updated: now,
                versions: Vec::new(),
                lifecycle,
            };
            let mut x = Xml::new();
            render::app(&mut x, "Application", &app, c.region, self.account());
            r.apps.insert(name.to_string(), app);
            Ok(Some(x.finish()))
        })
    }

    pub(in crate::eb) fn describe_applications(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
        let names = c.p.list("ApplicationNames");
        self.with_region(c.region, |r| {
            let mut x = Xml::new();
            x.open("Applications");
            for app in r
                .apps
                .values()
                .filter(|a| names.is_empty() || names.contains(&a.name))
            {
                render::app(&mut x, "member", app, c.region, self.account());
            }
            x.close("Applications");
            Ok(Some(x.finish()))
        })
    }

    pub(in crate::eb) fn delete_application(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
        let name = c.p.req("ApplicationName")?;
        let force = c.p.bool("TerminateEnvByForce")?.unwrap_or(false);
        let clock = self.ctx.clock.clone();
        self.with_region(c.region, |r| {
            if !r.apps.contains_key(name) {
                return Err(ApiError::invalid(format!("No Application named '{name}' found.")));
            }
            let live: Vec<usize> = (0..r.envs.len())
                .filter(|&i| r.envs[i].app == name && r.envs[i].status != EnvStatus::Terminated)
                .collect();
            if !live.is_empty() && !force {
                let names: Vec<&str> = live.iter().map(|&i| r.envs[i].name.as_str()).collect();
                return Err(ApiError::new(
                    "OperationInProgressFailure",
                    format!(
                        "Unable to delete application {name} because it has running environments: {}. Terminate them first or set TerminateEnvByForce.",
                        names.join(", ")
                    ),
                ));
            }
            for i in live {
                let env = &mut r.envs[i];
                if env.status != EnvStatus::Terminating {
                    env.timeline.clear();
                    let steps = terminate_steps(env, c.request_id);
                    env.status = EnvStatus::Terminating;
                    env.schedule(&clock, steps);
                    self.stop_instance(env);
                }
            }
            r.apps.remove(name);
            r.tick(Instant::now(), self.now());
            Ok(None)
        })
    }

    pub(in crate::eb) fn update_application_resource_lifecycle(
        &self,
        c: &Call<'_>,
    ) -> ApiResult<Option<String>> {
        let name = c.p.req("ApplicationName")?;
        let lifecycle =
            parse_lifecycle(&c.p)?.ok_or_else(|| ApiError::missing("ResourceLifecycleConfig"))?;
        let now = self.now();
        self.with_region(c.region, |r| {
            let app = r.apps.get_mut(name).ok_or_else(|| {
                ApiError::invalid(format!("No Application named '{name}' found."))
            })?;
            app.lifecycle = lifecycle;
            app.updated = now;
            let mut x = Xml::new();
            x.leaf("ApplicationName", name);
            render::lifecycle(&mut x, &app.lifecycle);
            Ok(Some(x.finish()))
        })
    }

    /// Checks that a new version may be created; `Ok(())` before any S3 traffic.
    pub(super) fn check_new_version(
        &self,
        r: &Region,
        app: &str,
        label: &str,
        auto_create: bool,
    ) -> ApiResult<()> {
        match r.apps.get(app) {
            None if !auto_create => {
                return Err(ApiError::invalid(format!(
                    "No Application named '{app}' found."
                )));
            }
            Some(a) if a.versions.iter().any(|v| v.label == label) => {
                return Err(ApiError::invalid(format!(
                    "Application Version {label} already exists."
                )));
            }
            _ => {}
        }
        if r.version_count() >= self.version_quota as usize {
            return Err(ApiError::new(
                "TooManyApplicationVersionsException",
                format!(
                    "You cannot have more than {} Application Versions. Either remove some Application Versions or request a limit increase.",
                    self.version_quota
                ),
            ));
        }
        Ok(())
    }

    pub(in crate::eb) async fn create_application_version(
        &self,
        c: &Call<'_>,
    ) -> ApiResult<Option<String>> {
        let app_name = c.p.req("ApplicationName")?;
        validate_app_name(app_name)?;
        let label = c.p.req("VersionLabel")?;
        validate_label(label)?;
        let auto_create = c.p.bool("AutoCreateApplication")?.unwrap_or(false);
        let process = c.p.bool("Process")?.unwrap_or(false);
        let description = c.p.get("Description").map(str::to_string);
        if c.p.has_prefix("SourceBuildInformation") {
            return Err(ApiError::combination(
                "SourceBuildInformation (CodeCommit/CodeBuild) is not supported by the local cloud; use SourceBundle.",
            ));
        }
        self.with_region(c.region, |r| {
            self.check_new_version(r, app_name, label, auto_create)
        })?;

        let (bucket, key, verdict) = match (
            c.p.get("SourceBundle.S3Bucket"),
            c.p.get("SourceBundle.S3Key"),
        ) {
            (Some(b), Some(k)) => {
                // Sized by HEAD first: an oversized bundle is refused without being read; the
                // rest is streamed to a scratch file (never held in memory) and inspected there.
                let scratch = std::env::temp_dir().join(format!(
                    "deploykit-localcloud-bundle-{}.zip",
                    uuid::Uuid::new_v4().simple()
                ));
                let got = self
                    .moto()?
                    .s3_download(c.region, b, k, self.max_bundle_bytes, &scratch)
                    .await
                    .map_err(|e| {
                        ApiError::combination(format!(
                            "Unable to download from S3 location (Bucket: {b}  Key: {k}). Reason: {e}"
                        ))
                    });
                let verdict = match got? {
                    Download::NotFound => {
                        return Err(ApiError::combination(format!(
                            "Unable to download from S3 location (Bucket: {b}  Key: {k}). Reason: Not Found"
                        )));
                    }
                    Download::TooLarge { bytes } => {
                        return Err(too_large(b, k, bytes, self.max_bundle_bytes));
                    }
                    Download::Saved { .. } => {
                        let path = scratch.clone();
                        let v = tokio::task::spawn_blocking(move || bundle::inspect_file(&path))
                            .await
                            .unwrap_or_else(|e| {
                                Verdict::Fails(vec![format!("inspecting the bundle failed: {e}")])
                            });
                        let _ = tokio::fs::remove_file(&scratch).await;
                        v
                    }
                };
                (b.to_string(), k.to_string(), verdict)
            }
            (None, None) => (
                format!("elasticbeanstalk-samples-{}", c.region),
                "python-sample.zip".to_string(),
                Verdict::Runs,
            ),
            (Some(_), None) => return Err(ApiError::missing("SourceBundle.S3Key")),
            (None, Some(_)) => return Err(ApiError::missing("SourceBundle.S3Bucket")),
        };

        let now = self.now();
        let (xml, delete) = self.with_region(c.region, |r| {
            // Re-check: another request may have won the race while we read S3.
            self.check_new_version(r, app_name, label, auto_create)?;
            let in_use: Vec<String> = r
                .envs
                .iter()
                .filter(|e| e.app == app_name && e.status != EnvStatus::Terminated)
                .filter_map(|e| e.version.clone())
                .collect();
            let app = r.apps.entry(app_name.to_string()).or_insert_with(|| App {
                name: app_name.to_string(),
                description: None,
                created: now,
                updated: now,
                versions: Vec::new(),
                lifecycle: Lifecycle::default(),
            });
            let status = match (&verdict, process) {
                (_, false) => "Unprocessed",
                (Verdict::Fails(causes), true)
                    if causes.iter().any(|c| c.contains("not a valid zip")) =>
                {
                    "Failed"
                }
                (_, true) => "Processed",
            };
            let version = Version {
                label: label.to_string(),
                description,
                bucket,
                key,
                created: now,
                status,
                verdict,
            };
            let mut x = Xml::new();
            render::version(
                &mut x,
                "ApplicationVersion",
                app_name,
                &version,
                c.region,
                self.account(),
            );
            app.versions.push(version);
            app.updated = now;
            let delete = apply_lifecycle(app, &in_use, now);
            Ok::<_, ApiError>((x.finish(), delete))
        })?;
        // Lifecycle clean-up of source bundles is best effort, as in the service.
        if let Some(moto) = &self.moto {
            for (b, k) in delete {
                let _ = moto.s3_delete(c.region, &b, &k).await;
            }
        }
        Ok(Some(xml))
    }

    pub(in crate::eb) fn describe_application_versions(
        &self,
        c: &Call<'_>,
    ) -> ApiResult<Option<String>> {
        let app = c.p.get("ApplicationName");
        let labels = c.p.list("VersionLabels");
        self.with_region(c.region, |r| {
            let mut all: Vec<(&str, &Version)> = r
                .apps
                .values()
                .filter(|a| app.is_none_or(|n| n == a.name))
                .flat_map(|a| a.versions.iter().map(move |v| (a.name.as_str(), v)))
                .filter(|(_, v)| labels.is_empty() || labels.contains(&v.label))
                .collect();
            all.sort_by_key(|v| std::cmp::Reverse(v.1.created));
            let (items, next) = page(all, &c.p, 1000)?;
            let mut x = Xml::new();
            x.open("ApplicationVersions");
            for (app, v) in items {
                render::version(&mut x, "member", app, v, c.region, self.account());
            }
            x.close("ApplicationVersions").opt("NextToken", next);
            Ok(Some(x.finish()))
        })
    }

    pub(in crate::eb) async fn delete_application_version(
        &self,
        c: &Call<'_>,
    ) -> ApiResult<Option<String>> {
        let app_name = c.p.req("ApplicationName")?;
        let label = c.p.req("VersionLabel")?;
        let delete_source = c.p.bool("DeleteSourceBundle")?.unwrap_or(false);
        let removed = self.with_region(c.region, |r| {
            let users: Vec<String> = r
                .envs
                .iter()
                .filter(|e| e.app == app_name && e.status != EnvStatus::Terminated)
                .filter(|e| {
                    e.version.as_deref() == Some(label)
                        || e.timeline
                            .iter()
                            .any(|(_, s)| s.version.as_ref().is_some_and(|v| v.as_deref() == Some(label)))
                })
                .map(|e| e.name.clone())
                .collect();
            let app = r
                .apps
                .get_mut(app_name)
                .ok_or_else(|| ApiError::invalid(format!("No Application named '{app_name}' found.")))?;
            let idx = app
                .versions
                .iter()
                .position(|v| v.label == label)
                .ok_or_else(|| ApiError::invalid(format!("No Application Version named '{label}' found.")))?;
            if !users.is_empty() {
                return Err(ApiError::invalid(format!(
                    "Unable to delete application version {label} because it is being used by environment(s): {}.",
                    users.join(", ")
                )));
            }
            Ok(app.versions.remove(idx))
        })?;
        if delete_source {
            self.moto()?
                .s3_delete(c.region, &removed.bucket, &removed.key)
                .await
                .map_err(|e| ApiError::new("SourceBundleDeletionFailure", e))?;
        }
        Ok(None)
    }

    pub(in crate::eb) async fn create_storage_location(
        &self,
        c: &Call<'_>,
    ) -> ApiResult<Option<String>> {
        let bucket = format!("elasticbeanstalk-{}-{}", c.region, self.account());
        self.moto()?
            .s3_ensure_bucket(c.region, &bucket)
            .await
            .map_err(ApiError::service)?;
        let mut x = Xml::new();
        x.leaf("S3Bucket", bucket);
        Ok(Some(x.finish()))
    }

    pub(in crate::eb) fn check_dns_availability(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
        let prefix = c.p.req("CNAMEPrefix")?;
        validate_cname_prefix(prefix)?;
        let fqdn = cname(prefix, c.region);
        self.with_region(c.region, |r| {
            let available = !r
                .envs
                .iter()
                .any(|e| e.cname == fqdn && e.status != EnvStatus::Terminated);
            let mut x = Xml::new();
            x.leaf("Available", available.to_string())
                .leaf("FullyQualifiedCNAME", &fqdn);
            Ok(Some(x.finish()))
        })
    }
}

/// Applies the application's version lifecycle after a new version; returns S3 objects to delete.
pub(super) fn apply_lifecycle(
    app: &mut App,
    in_use: &[String],
    now: OffsetDateTime,
) -> Vec<(String, String)> {
    let mut delete = Vec::new();
    let lc = app.lifecycle.clone();
    let mut keep_newest = usize::MAX;
    if lc.max_count.enabled {
        keep_newest = lc.max_count.value.max(1) as usize;
    }
    let total = app.versions.len();
    let mut removed: BTreeMap<usize, bool> = BTreeMap::new();
    for (i, v) in app.versions.iter().enumerate() {
        if in_use.contains(&v.label) || i + 1 == total {
            continue;
        }
        let newer = total - i - 1;
        if newer >= keep_newest {
            removed.insert(i, lc.max_count.delete_source);
            continue;
        }
        if lc.max_age.enabled
            && now - v.created > Duration::from_secs(lc.max_age.value.max(1) as u64 * 86_400)
        {
            removed.insert(i, lc.max_age.delete_source);
        }
    }
    for (i, delete_source) in removed.into_iter().rev() {
        let v = app.versions.remove(i);
        if delete_source {
            delete.push((v.bucket, v.key));
        }
    }
    delete
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eb::state::Rule;

    #[test]
    fn lifecycle_keeps_newest_and_in_use() {
        let now = OffsetDateTime::now_utc();
        let v = |label: &str| Version {
            label: label.into(),
            description: None,
            bucket: "b".into(),
            key: format!("{label}.zip"),
            created: now,
            status: "Unprocessed",
            verdict: Verdict::Runs,
        };
        let mut app = App {
            name: "a".into(),
            description: None,
            created: now,
            updated: now,
            versions: ["v1", "v2", "v3", "v4"].into_iter().map(v).collect(),
            lifecycle: Lifecycle {
                service_role: None,
                max_count: Rule {
                    enabled: true,
                    value: 2,
                    delete_source: true,
                },
                max_age: Lifecycle::default().max_age,
            },
        };
        let deleted = apply_lifecycle(&mut app, &["v1".to_string()], now);
        let labels: Vec<_> = app.versions.iter().map(|v| v.label.as_str()).collect();
        assert_eq!(labels, ["v1", "v3", "v4"]);
        assert_eq!(deleted, vec![("b".to_string(), "v2.zip".to_string())]);
    }
}
