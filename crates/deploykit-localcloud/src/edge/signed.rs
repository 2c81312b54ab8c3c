//! Steps 3 and 4 of [`Shared::handle`]: a signed AWS request meets the faults armed for its
//! operation, then its emulator or moto.

use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::{Body, DropConnection, Shared, boxed, full, incoming, read_body};
use crate::core::Fault;
use crate::{ecr, faults, operation, sigv4};

impl Shared {
    /// Step 3: the faults, by service and operation, in the service's own wire format; then
    /// step 4.
    pub(super) async fn serve_signed(
        &self,
        req: Request<Incoming>,
        scope: sigv4::Scope,
        request_id: String,
    ) -> Result<Response<Body>, DropConnection> {
        // 3. Faults, by service and operation, in the service's own wire format.
        let (parts, body) = req.into_parts();
        let mut body = incoming(body);
        let mut form = None;
        if operation::needs_form_body(&parts.headers, &parts.method) {
            let bytes = match read_body(body).await {
                Ok(b) => b,
                Err(resp) => return Ok(boxed(resp)),
            };
            body = full(bytes.clone());
            form = Some(bytes);
        }
        let op = operation::name(
            &scope.service,
            &parts.method,
            parts.uri.path(),
            parts.uri.query(),
            &parts.headers,
            form.as_deref(),
        );
        let req = Request::from_parts(parts, body);
        let fault = self.ctx.faults.take(&scope.service, &op);
        if let Some(f) = fault.clone().filter(|f| !f.after_serving()) {
            self.ctx.faults.hit(&scope.service, &op, &f);
            let protocol = faults::protocol_for(&scope.service);
            match f {
                Fault::Throttle => return Ok(boxed(faults::throttle(protocol, &request_id))),
                Fault::ServerError { status } => {
                    let status =
                        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    return Ok(boxed(faults::server_error(protocol, status, &request_id)));
                }
                Fault::Latency { delay } => {
                    if !self.ctx.faults.hold(delay).await {
                        return Err(DropConnection);
                    }
                }
                Fault::Drop | Fault::LostResponse | Fault::SlowResponse { .. } => {
                    return Err(DropConnection);
                }
            }
        }
        let resp = self.dispatch(req, scope.clone(), request_id).await;
        let Some(f) = fault.filter(Fault::after_serving) else {
            return Ok(resp);
        };
        // Served in full (a forwarded body included) before the fault takes effect.
        let (parts, body) = resp.into_parts();
        let Ok(collected) = body.collect().await else {
            return Err(DropConnection);
        };
        self.ctx.faults.hit(&scope.service, &op, &f);
        match f {
            Fault::SlowResponse { delay } if self.ctx.faults.hold(delay).await => {
                Ok(Response::from_parts(parts, full(collected.to_bytes())))
            }
            _ => Err(DropConnection),
        }
    }

    /// Step 4 of [`Shared::handle`]: a signed AWS request to its emulator or to moto.
    async fn dispatch(
        &self,
        req: Request<Body>,
        scope: sigv4::Scope,
        request_id: String,
    ) -> Response<Body> {
        // 4. Dispatch by service.
        let region = if scope.region.is_empty() || scope.region == "*" {
            self.ctx.default_region.clone()
        } else {
            scope.region.clone()
        };
        let target = req
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        match scope.service.as_str() {
            "elasticbeanstalk" => {
                let query = req.uri().query().unwrap_or("").to_string();
                let method = req.method().clone();
                let body = match read_body(req.into_body()).await {
                    Ok(b) => b,
                    Err(resp) => return boxed(resp),
                };
                let mut params: Vec<(String, String)> =
                    url::form_urlencoded::parse(query.as_bytes())
                        .into_owned()
                        .collect();
                if method == Method::POST {
                    params.extend(url::form_urlencoded::parse(&body).into_owned());
                }
                boxed(self.eb().handle(&region, params, &request_id).await)
            }
            "apprunner" => {
                let Some(op) = target.as_deref().and_then(|t| t.strip_prefix("AppRunner.")) else {
                    return boxed(faults::json_error(
                        StatusCode::BAD_REQUEST,
                        "UnknownOperationException",
                        "App Runner requests need an X-Amz-Target of AppRunner.<Operation>",
                        &request_id,
                    ));
                };
                let op = op.to_string();
                let body = match read_body(req.into_body()).await {
                    Ok(b) => b,
                    Err(resp) => return boxed(resp),
                };
                boxed(self.apprunner().handle(&op, body).await)
            }
            "ecs"
                if target
                    .as_deref()
                    .and_then(|t| t.strip_prefix(crate::ecs::TARGET_PREFIX))
                    .is_some_and(|op| {
                        crate::ecs::EXPRESS_OPERATIONS.contains(&op) || op == "DescribeServices"
                    }) =>
            {
                // Express Mode is emulated here; DescribeServices only for Express services
                // created here (anything else goes to moto with the same bytes).
                let op = target
                    .as_deref()
                    .and_then(|t| t.strip_prefix(crate::ecs::TARGET_PREFIX))
                    .unwrap_or_default()
                    .to_string();
                let (parts, body) = req.into_parts();
                let body = match read_body(body).await {
                    Ok(b) => b,
                    Err(resp) => return boxed(resp),
                };
                let ecs = self.ecs();
                if ecs.owns(&op, &body) {
                    return boxed(ecs.handle(&op, body).await);
                }
                match &self.moto {
                    Some(m) => m.forward_bytes(parts, body, &request_id).await,
                    None => self.forward_unavailable(&request_id),
                }
            }
            "ecr"
                if target.as_deref()
                    == Some("AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken") =>
            {
                let body = match read_body(req.into_body()).await {
                    Ok(b) => b,
                    Err(resp) => return boxed(resp),
                };
                boxed(ecr::get_authorization_token(&self.ctx, body).await)
            }
            "ecr"
                if target.as_deref()
                    == Some("AmazonEC2ContainerRegistry_V20150921.DescribeImages") =>
            {
                let body = match read_body(req.into_body()).await {
                    Ok(b) => b,
                    Err(resp) => return boxed(resp),
                };
                boxed(ecr::describe_images(&self.ctx, body).await)
            }
            "rds" if self.rds.is_some() => {
                let query = req.uri().query().unwrap_or("").to_string();
                let body = match read_body(req.into_body()).await {
                    Ok(b) => b,
                    Err(resp) => return boxed(resp),
                };
                let mut params: Vec<(String, String)> =
                    url::form_urlencoded::parse(query.as_bytes())
                        .into_owned()
                        .collect();
                params.extend(url::form_urlencoded::parse(&body).into_owned());
                match &self.rds {
                    Some(rds) => boxed(rds.handle(&region, params, &request_id).await),
                    None => self.forward_unavailable(&request_id),
                }
            }
            _ => self.forward(req, &request_id).await,
        }
    }
}
