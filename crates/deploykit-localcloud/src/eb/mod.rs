//! Elastic Beanstalk emulator (query protocol).

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;

use crate::core::Ctx;
use crate::forward::Moto;
use crate::xml::query_error;

/// The Elastic Beanstalk emulator: one per edge, all regions.
#[derive(Debug)]
pub(crate) struct Eb {
    #[allow(dead_code)]
    ctx: Ctx,
    #[allow(dead_code)]
    moto: Option<Moto>,
    #[allow(dead_code)]
    version_quota: u32,
}

impl Eb {
    pub fn new(ctx: Ctx, moto: Option<Moto>, version_quota: u32) -> Self {
        Self {
            ctx,
            moto,
            version_quota,
        }
    }

    pub async fn handle(
        &self,
        _region: &str,
        params: Vec<(String, String)>,
        request_id: &str,
    ) -> Response<Full<Bytes>> {
        let action = params
            .iter()
            .find(|(k, _)| k == "Action")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        query_error(
            StatusCode::BAD_REQUEST,
            "Sender",
            "InvalidAction",
            &format!("The action {action} is not valid for this web service."),
            request_id,
        )
    }

    pub fn serve_app(&self, _host: &str, _path: &str) -> Response<Full<Bytes>> {
        let mut resp = Response::new(Full::new(Bytes::from_static(b"no such environment\n")));
        *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        resp
    }
}
