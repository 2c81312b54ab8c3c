//! `[eb] load_balanced`: the certificate for the environment's HTTPS listener (the seed's
//! upgrade path, deploykit-eb's `lb` module plans the rest).

use deploykit_eb::LoadBalancer;

use crate::{Result, Session};

/// The listener's certificate: `[eb] certificate_arn`, else (once deploykit looks ACM up) the
/// ISSUED certificate of `[eb] domain`. `None` lets the planner refuse the deploy before any
/// change, with the fix.
pub(crate) async fn listener_certificate(
    _s: &Session,
    lb: &LoadBalancer,
) -> Result<Option<String>> {
    Ok(lb.certificate_arn.clone())
}
