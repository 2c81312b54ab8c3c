//! The Elastic Beanstalk operations.

mod applications;
mod environments;
mod steps;
mod validate;

use time::OffsetDateTime;

use super::Eb;
use super::params::{ApiError, ApiResult, Params};
use super::state::Region;

fn not_found_env(p: &Params) -> ApiError {
    match (p.get("EnvironmentName"), p.get("EnvironmentId")) {
        (Some(n), _) => {
            ApiError::invalid(format!("No Environment found for EnvironmentName = '{n}'."))
        }
        (None, Some(id)) => {
            ApiError::invalid(format!("No Environment found for EnvironmentId = '{id}'."))
        }
        (None, None) => ApiError::combination(
            "You must specify either the EnvironmentId or the EnvironmentName.",
        ),
    }
}

/// The live (not terminated) environment the request names.
pub(super) fn find_env(r: &Region, p: &Params) -> ApiResult<usize> {
    let found = match (p.get("EnvironmentName"), p.get("EnvironmentId")) {
        (Some(n), _) => r.live_env(n),
        (None, Some(id)) => r.live_env_by_id(id),
        (None, None) => None,
    };
    found.ok_or_else(|| not_found_env(p))
}

fn invalid_state(name: &str) -> ApiError {
    ApiError::invalid(format!(
        "Environment named {name} is in an invalid state for this operation. Must be Ready."
    ))
}

pub(super) fn page<T>(
    items: Vec<T>,
    p: &Params,
    default_max: usize,
) -> ApiResult<(Vec<T>, Option<String>)> {
    let max = match p.int("MaxRecords")? {
        Some(m) if (1..=1000).contains(&m) => m as usize,
        Some(m) => {
            return Err(ApiError::invalid(format!(
                "MaxRecords must be between 1 and 1000, got {m}."
            )));
        }
        None => default_max,
    };
    let start = match p.get("NextToken") {
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| ApiError::invalid(format!("Invalid NextToken: {t}")))?,
        None => 0,
    };
    let total = items.len();
    let out: Vec<T> = items.into_iter().skip(start).take(max).collect();
    let next = (start + out.len() < total).then(|| (start + out.len()).to_string());
    Ok((out, next))
}

/// The options a `CreateEnvironment` asks for (without the platform's defaults).
pub(super) fn requested_options(p: &Params) -> ApiResult<Vec<super::state::OptionSetting>> {
    validate::parse_options(p, "OptionSettings", true)
}

/// `before` with the request's `OptionSettings` applied and its `OptionsToRemove` removed.
pub(super) fn merged_options(
    before: &[super::state::OptionSetting],
    p: &Params,
) -> ApiResult<Vec<super::state::OptionSetting>> {
    let mut out = before.to_vec();
    validate::merge_options(
        &mut out,
        validate::parse_options(p, "OptionSettings", true)?,
        &validate::parse_options(p, "OptionsToRemove", false)?,
    );
    Ok(out)
}

/// Every check `UpdateEnvironment` makes on the options it would leave.
pub(super) fn validate_all(options: &[super::state::OptionSetting]) -> ApiResult<()> {
    validate::validate_options(options)
}

impl Eb {
    fn now(&self) -> OffsetDateTime {
        self.ctx.clock.now_utc()
    }

    pub(in crate::eb) fn account(&self) -> &str {
        &self.ctx.account_id
    }

    /// The instance address reported as `EndpointURL` (the edge's host).
    pub(super) fn endpoint(&self) -> String {
        self.ctx
            .edge_addr
            .rsplit_once(':')
            .map(|(h, _)| h.to_string())
            .unwrap_or_else(|| self.ctx.edge_addr.clone())
    }

    fn moto(&self) -> ApiResult<&crate::forward::Moto> {
        self.moto.as_ref().ok_or_else(|| {
            ApiError::service(
                "This local cloud has no S3 (moto) configured; start the edge with a moto URL.",
            )
        })
    }
}
