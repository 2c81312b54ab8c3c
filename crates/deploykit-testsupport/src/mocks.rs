//! Typed mock responses for AWS SDK clients, with no `test-util` feature anywhere.
//!
//! `aws-smithy-mocks` needs `test-util` on the SDK crate (for `with_test_defaults_v2`) and on
//! `aws-smithy-runtime-api`/`aws-smithy-http-client`; a dev-dependency that turns those on gives
//! `cargo test --workspace` a second build of every AWS SDK crate, or the shipped CLI the
//! test features. This module is the same idea on public APIs only: an interceptor answers
//! each operation from the first matching [`Rule`] (typed outputs, typed errors or raw HTTP
//! responses, one for every call or a sequence, one per attempt), and an HTTP client that never
//! opens a connection carries the raw responses. The API is `aws-smithy-mocks`' (0.3) subset.
//!
//! ```no_run
//! use aws_sdk_s3::Client;
//! use aws_sdk_s3::operation::head_object::HeadObjectOutput;
//! use deploykit_testsupport::mocks::{RuleMode, mock, mock_client};
//! # async fn t() {
//! let head = mock!(Client::head_object).then_output(|| HeadObjectOutput::builder().build());
//! let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&head]);
//! client.head_object().bucket("b").key("k").send().await.unwrap(); // the code under test
//! assert_eq!(head.num_calls(), 1);
//! # }
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextMut, Error,
    FinalizerInterceptorContextMut, Input, Output,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse, OrchestratorError};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

pub use crate::{mock, mock_client};

/// How an operation picks its rule (as in `aws-smithy-mocks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleMode {
    /// The first rule, in the order given, that matches and still has a response.
    MatchAny,
    /// The rules answer in order: a rule answers until it is used up (a `then_*` rule answers
    /// once), then the next; a call the current rule does not match panics.
    Sequential,
}

/// Makes the response for one attempt; `None` input on a retry.
type Generator = Arc<dyn Fn(Option<&Input>) -> Response + Send + Sync>;

/// One mocked operation: which calls it matches and the responses it gives, one per attempt.
/// Clones share the call count.
#[derive(Clone)]
pub struct Rule {
    matches: Arc<dyn Fn(&Input) -> bool + Send + Sync>,
    responses: Arc<Vec<(Generator, usize)>>,
    total: usize,
    simple: bool,
    calls: Arc<AtomicUsize>,
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Rule {{ calls: {}, responses: {} }}",
            self.num_calls(),
            self.total
        )
    }
}

impl Rule {
    /// How many responses this rule has given (each attempt of a retried call counts).
    pub fn num_calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Whether every response of a sequence has been given.
    pub fn is_exhausted(&self) -> bool {
        self.num_calls() >= self.total
    }

    fn next_response(&self, input: Option<&Input>) -> Option<Response> {
        let mut n = self.calls.fetch_add(1, Ordering::SeqCst);
        for (generator, times) in self.responses.iter() {
            if n < *times {
                return Some(generator(input));
            }
            n -= times;
        }
        None
    }
}

enum Response {
    Output(Output),
    Error(Error),
    Http(HttpResponse),
}

/// A raw response travelling on the request to [`MockHttpClient`] (extensions must be `Clone`).
#[derive(Clone)]
struct RawResponse(Arc<Mutex<Option<HttpResponse>>>);

/// Builds a [`Rule`] for one operation; made by [`mock!`](crate::mock).
pub struct RuleBuilder<I, O, E> {
    matches: Arc<dyn Fn(&Input) -> bool + Send + Sync>,
    _types: PhantomData<fn(I) -> (O, E)>,
}

impl<I, O, E> fmt::Debug for RuleBuilder<I, O, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RuleBuilder")
    }
}

impl<I, O, E> RuleBuilder<I, O, E>
where
    I: fmt::Debug + Send + Sync + 'static,
    O: fmt::Debug + Send + Sync + 'static,
    E: std::error::Error + fmt::Debug + Send + Sync + 'static,
{
    /// The closures only fix the types (the operation's input, output and error); they are
    /// never called. [`mock!`](crate::mock) writes them.
    pub fn new_from_mock<F, R>(_input: impl Fn() -> I, _send: impl Fn() -> F) -> Self
    where
        F: Future<Output = Result<O, SdkError<E, R>>>,
    {
        RuleBuilder {
            matches: Arc::new(|input: &Input| input.downcast_ref::<I>().is_some()),
            _types: PhantomData,
        }
    }

    /// Answer only calls whose input passes `f`.
    pub fn match_requests(self, f: impl Fn(&I) -> bool + Send + Sync + 'static) -> Self {
        RuleBuilder {
            matches: Arc::new(move |input: &Input| input.downcast_ref::<I>().is_some_and(&f)),
            _types: PhantomData,
        }
    }

    /// Several responses, one per attempt, in order: `.sequence().http_status(503, None)
    /// .output(|| ...).build()`.
    pub fn sequence(self) -> ResponseSequence<I, O, E> {
        ResponseSequence {
            matches: self.matches,
            responses: Vec::new(),
            _types: PhantomData,
        }
    }

    /// Answer every matching call with the output `f` makes.
    pub fn then_output(self, f: impl Fn() -> O + Send + Sync + 'static) -> Rule {
        self.sequence().output(f).simple()
    }

    /// Answer every matching call with an output made from its input.
    pub fn then_compute_output(self, f: impl Fn(&I) -> O + Send + Sync + 'static) -> Rule {
        let generator: Generator = Arc::new(move |input| {
            let input = input.and_then(|i| i.downcast_ref::<I>());
            let input = input.expect("a computed output answers the first attempt only");
            Response::Output(Output::erase(f(input)))
        });
        self.sequence().push(generator).simple()
    }

    /// Answer every matching call with the operation's modeled error.
    pub fn then_error(self, f: impl Fn() -> E + Send + Sync + 'static) -> Rule {
        self.sequence().error(f).simple()
    }

    /// Answer every attempt with a raw HTTP response, which the SDK deserializes (and retries).
    pub fn then_http_response(self, f: impl Fn() -> HttpResponse + Send + Sync + 'static) -> Rule {
        self.sequence().http_response(f).simple()
    }
}

/// The responses of a sequenced rule; made by [`RuleBuilder::sequence`].
pub struct ResponseSequence<I, O, E> {
    matches: Arc<dyn Fn(&Input) -> bool + Send + Sync>,
    responses: Vec<(Generator, usize)>,
    _types: PhantomData<fn(I) -> (O, E)>,
}

impl<I, O, E> fmt::Debug for ResponseSequence<I, O, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ResponseSequence {{ responses: {} }}",
            self.responses.len()
        )
    }
}

impl<I, O, E> ResponseSequence<I, O, E>
where
    I: fmt::Debug + Send + Sync + 'static,
    O: fmt::Debug + Send + Sync + 'static,
    E: std::error::Error + fmt::Debug + Send + Sync + 'static,
{
    /// Then a modeled output.
    pub fn output(self, f: impl Fn() -> O + Send + Sync + 'static) -> Self {
        self.push(Arc::new(move |_| Response::Output(Output::erase(f()))))
    }

    /// Then a modeled error.
    pub fn error(self, f: impl Fn() -> E + Send + Sync + 'static) -> Self {
        self.push(Arc::new(move |_| Response::Error(Error::erase(f()))))
    }

    /// Then a raw response with this status and body.
    pub fn http_status(self, status: u16, body: Option<String>) -> Self {
        let status = StatusCode::try_from(status).expect("a valid HTTP status");
        self.push(Arc::new(move |_| {
            let body = body.clone().map_or_else(SdkBody::empty, SdkBody::from);
            Response::Http(HttpResponse::new(status, body))
        }))
    }

    /// Then a raw response `f` makes.
    pub fn http_response(self, f: impl Fn() -> HttpResponse + Send + Sync + 'static) -> Self {
        self.push(Arc::new(move |_| Response::Http(f())))
    }

    /// Give the last response `n` times (n > 0).
    pub fn times(mut self, n: usize) -> Self {
        assert!(n > 0, "times(0): a response must be given at least once");
        let last = self
            .responses
            .last_mut()
            .expect("times(n) follows a response");
        last.1 = n;
        self
    }

    /// Give the last response forever: the rule is never used up.
    pub fn repeatedly(self) -> Self {
        self.times(usize::MAX)
    }

    /// The rule.
    pub fn build(self) -> Rule {
        self.rule(false)
    }

    fn push(mut self, generator: Generator) -> Self {
        self.responses.push((generator, 1));
        self
    }

    fn simple(self) -> Rule {
        self.repeatedly().rule(true)
    }

    fn rule(self, simple: bool) -> Rule {
        let total = self
            .responses
            .iter()
            .fold(0usize, |n, (_, t)| n.saturating_add(*t));
        Rule {
            matches: self.matches,
            responses: Arc::new(self.responses),
            total,
            simple,
            calls: Arc::new(AtomicUsize::new(0)),
        }
    }
}

/// The interceptor [`mock_client!`](crate::mock_client) installs.
pub struct MockInterceptor {
    rules: Mutex<VecDeque<Rule>>,
    mode: RuleMode,
    ids: AtomicUsize,
    pending: Mutex<HashMap<usize, Response>>,
}

impl fmt::Debug for MockInterceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MockInterceptor {{ mode: {:?} }}", self.mode)
    }
}

/// Which call of this interceptor an attempt belongs to, and its rule (for retries).
#[derive(Debug, Clone)]
struct Active(usize, Rule);

impl Storable for Active {
    type Storer = StoreReplace<Active>;
}

impl MockInterceptor {
    /// No rules yet; add them with [`with_rule`](Self::with_rule).
    pub fn new(mode: RuleMode) -> Self {
        MockInterceptor {
            rules: Mutex::new(VecDeque::new()),
            mode,
            ids: AtomicUsize::new(0),
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// Adds a rule after the others.
    pub fn with_rule(self, rule: &Rule) -> Self {
        self.rules
            .lock()
            .expect("mock rules")
            .push_back(rule.clone());
        self
    }

    fn answer(&self, input: &Input) -> (Rule, Response) {
        let mut rules = self.rules.lock().expect("mock rules");
        match self.mode {
            RuleMode::MatchAny => rules
                .iter()
                .filter(|r| !r.is_exhausted() && (r.matches)(input))
                .find_map(|r| r.next_response(Some(input)).map(|resp| (r.clone(), resp))),
            RuleMode::Sequential => loop {
                let Some(rule) = rules.front().cloned() else {
                    break None;
                };
                if rule.is_exhausted() || (rule.simple && rule.num_calls() > 0) {
                    rules.pop_front();
                    continue;
                }
                assert!(
                    (rule.matches)(input),
                    "the next mock rule (Sequential) does not match {input:?}"
                );
                match rule.next_response(Some(input)) {
                    Some(resp) => break Some((rule, resp)),
                    None => drop(rules.pop_front()),
                }
            },
        }
        .unwrap_or_else(|| panic!("no mock rule ({:?}) answers {input:?}", self.mode))
    }
}

impl Intercept for MockInterceptor {
    fn name(&self) -> &'static str {
        "deploykit_testsupport::mocks::MockInterceptor"
    }

    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (rule, response) = self.answer(context.input());
        let id = self.ids.fetch_add(1, Ordering::SeqCst);
        cfg.interceptor_state().store_put(Active(id, rule));
        self.pending
            .lock()
            .expect("mock state")
            .insert(id, response);
        Ok(())
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Active(id, rule)) = cfg.load::<Active>() else {
            return Ok(());
        };
        let mut pending = self.pending.lock().expect("mock state");
        // A retry: the first attempt used its response, so the rule gives the next one.
        let response = pending.remove(id).or_else(|| rule.next_response(None));
        match response {
            Some(Response::Http(raw)) => {
                context
                    .request_mut()
                    .add_extension(RawResponse(Arc::new(Mutex::new(Some(raw)))));
            }
            Some(modeled) => drop(pending.insert(*id, modeled)),
            None => {}
        }
        Ok(())
    }

    fn modify_before_attempt_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Active(id, _)) = cfg.load::<Active>() else {
            return Ok(());
        };
        match self.pending.lock().expect("mock state").remove(id) {
            Some(Response::Output(o)) => context.inner_mut().set_output_or_error(Ok(o)),
            Some(Response::Error(e)) => context
                .inner_mut()
                .set_output_or_error(Err(OrchestratorError::operation(e))),
            Some(Response::Http(_)) | None => {}
        }
        Ok(())
    }
}

/// An HTTP client that never connects: it returns the raw response a rule set on the request,
/// else a 418 that the interceptor's typed answer replaces.
#[derive(Debug, Clone, Copy, Default)]
pub struct MockHttpClient;

impl MockHttpClient {
    /// As the SDK config builders take it.
    pub fn shared() -> SharedHttpClient {
        SharedHttpClient::new(MockHttpClient)
    }
}

impl HttpConnector for MockHttpClient {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let raw = request
            .extension::<RawResponse>()
            .and_then(|r| r.0.lock().ok()?.take());
        let response = match raw {
            Some(raw) => raw,
            None => HttpResponse::new(
                StatusCode::try_from(418).expect("a valid status"),
                SdkBody::from("deploykit-testsupport mock: no raw response for this call"),
            ),
        };
        HttpConnectorFuture::ready(Ok(response))
    }
}

impl HttpClient for MockHttpClient {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(*self)
    }
}

/// A [`RuleBuilder`] for one client operation: `mock!(aws_sdk_s3::Client::head_object)`.
#[macro_export]
macro_rules! mock {
    ($operation:expr) => {
        #[allow(unreachable_code, clippy::diverging_sub_expression)]
        {
            $crate::mocks::RuleBuilder::new_from_mock(
                || {
                    let builder = $operation(unreachable!());
                    builder.as_input().clone().build().expect("a valid input")
                },
                || {
                    let builder = $operation(unreachable!());
                    builder.send()
                },
            )
        }
    };
}

/// A client of SDK crate `$sdk` answered by `$rules` (anything iterable of `&Rule`), with fixed
/// test credentials, region `us-east-1` and [`MockHttpClient`]; an optional closure adjusts
/// the config builder (interceptors, retries).
#[macro_export]
macro_rules! mock_client {
    ($sdk:ident, $mode:expr, $rules:expr) => {
        $crate::mock_client!($sdk, $mode, $rules, |c| c)
    };
    ($sdk:ident, $mode:expr, $rules:expr, $adjust:expr) => {{
        fn adjust<T: Fn($sdk::config::Builder) -> $sdk::config::Builder>(f: T) -> T {
            f
        }
        let builder = $sdk::config::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .region($sdk::config::Region::new("us-east-1"))
            .credentials_provider($sdk::config::Credentials::new(
                "AKIDTESTSUPPORT",
                "mock-secret",
                None,
                None,
                "deploykit-testsupport",
            ))
            .http_client($crate::mocks::MockHttpClient::shared());
        let mut interceptor = $crate::mocks::MockInterceptor::new($mode);
        for rule in $rules {
            interceptor = interceptor.with_rule(rule);
        }
        $sdk::client::Client::from_conf(adjust($adjust)(builder.interceptor(interceptor)).build())
    }};
}
