//! Sending one call to Microsoft the careful way: wait for the budgets (Graph
//! calls), ask the endpoint's circuit breaker, send, then sort the answer:
//! `429` (or `503` with `Retry-After`) pauses the tenant for `Retry-After` and
//! tries again; `5xx`, `408`, timeouts and connection errors back off with
//! full jitter and try again up to the attempt limit; anything else is the
//! answer.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::HeaderMap;

use super::GraphError;
use super::breaker::Breakers;
use super::budget::{BudgetKind, Budgets};
use super::config::{BudgetConfig, RetryConfig};
use super::retry::{RetryPolicy, retry_after};
use crate::clock::SharedClock;
use crate::metrics::GraphMetrics;

/// Largest answer body read, bytes.
const MAX_BODY: usize = 1 << 20;

/// What is being called.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    /// The endpoint's name: its circuit breaker, and logs.
    pub endpoint: &'static str,
    /// The tenant the call is for.
    pub tenant: &'a str,
    /// For Graph calls, the budget spent and its cost; `None` for calls
    /// outside Graph (the token endpoint, ACS).
    pub budget: Option<(BudgetKind, u32)>,
}

/// A final answer: a success, or a refusal that retrying will not change.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

/// The HTTP client with budgets, retries and circuit breakers; one per
/// server, shared by the Graph, token and ACS clients.
#[derive(Debug)]
pub struct Transport {
    http: reqwest::Client,
    clock: SharedClock,
    budgets: Budgets,
    breakers: Breakers,
    retry: RetryPolicy,
    metrics: GraphMetrics,
}

enum Attempt {
    Done(Answer),
    Throttled(Answer),
    Failed(String),
}

impl Transport {
    /// A transport with its own HTTP client (rustls).
    pub fn new(
        retry: &RetryConfig,
        budgets: BudgetConfig,
        clock: SharedClock,
    ) -> Result<Transport, GraphError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(retry.request_timeout_ms))
            .connect_timeout(Duration::from_millis(retry.request_timeout_ms))
            .user_agent(concat!("MetaOffice/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GraphError::Request(e.to_string()))?;
        Ok(Transport {
            http,
            budgets: Budgets::new(budgets, clock.clone()),
            breakers: Breakers::new(
                retry.breaker_failures,
                Duration::from_secs(retry.breaker_cooldown_secs),
            ),
            retry: RetryPolicy::from(retry),
            clock,
            metrics: GraphMetrics::default(),
        })
    }

    /// Counts calls and budget waits into `metrics` (the server's
    /// `/metrics`); a transport made with [`Transport::new`] counts into
    /// families nobody reads.
    pub fn with_metrics(mut self, metrics: GraphMetrics) -> Transport {
        self.metrics = metrics;
        self
    }

    /// The clock it waits on.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The Graph budgets.
    pub fn budgets(&self) -> &Budgets {
        &self.budgets
    }

    /// Sends the request `build` makes (once per attempt) until it has a
    /// final answer or gives up.
    pub async fn send<F>(&self, call: &Call<'_>, build: F) -> Result<Answer, GraphError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let endpoint = call.endpoint;
        let mut failures = 0u32;
        let mut throttled = 0u32;
        loop {
            let (now, admission, hold) = match call.budget {
                Some((kind, cost)) => {
                    let asked = self.clock.now();
                    let admission = self.budgets.acquire(call.tenant, kind, cost).await?;
                    let waited = admission.at.saturating_duration_since(asked);
                    if !waited.is_zero() {
                        self.metrics.budget_wait(endpoint, waited.as_secs_f64());
                    }
                    (admission.at, Some(admission), None)
                }
                None => {
                    let (now, hold) = self.clock.hold();
                    (now, None, Some(hold))
                }
            };
            let permit = self
                .breakers
                .allow(endpoint, now)
                .map_err(|retry_in| GraphError::CircuitOpen { endpoint, retry_in })?;
            let attempt = self.attempt(build(&self.http)).await;
            self.metrics.call(endpoint, &attempt.status());
            let reason = match attempt {
                Attempt::Done(answer) => {
                    self.breakers.success(endpoint);
                    return Ok(answer);
                }
                Attempt::Throttled(answer) => {
                    if answer.status == 429 {
                        self.breakers.success(endpoint);
                    }
                    throttled += 1;
                    let wait = retry_after(&answer.headers, self.clock.wall())
                        .unwrap_or_else(|| self.retry.backoff_bound(throttled));
                    if wait > self.retry.max_retry_after {
                        return Err(GraphError::ThrottledTooLong {
                            endpoint,
                            retry_after: wait,
                        });
                    }
                    if throttled > self.retry.max_throttled {
                        return Err(GraphError::GaveUp {
                            endpoint,
                            attempts: failures + throttled,
                            last: format!("HTTP {} (throttled)", answer.status),
                        });
                    }
                    tracing::warn!(
                        endpoint,
                        tenant = call.tenant,
                        status = answer.status,
                        retry_after_secs = wait.as_secs_f64(),
                        "throttled: pausing the tenant"
                    );
                    let until = now + wait;
                    if call.budget.is_some() {
                        // Every Graph call for the tenant waits, not only this one.
                        self.budgets.pause(call.tenant, until);
                    }
                    drop((admission, hold));
                    self.clock.sleep_until(until).await;
                    continue;
                }
                Attempt::Failed(reason) => reason,
            };
            self.breakers.failure(endpoint, permit, now);
            failures += 1;
            if failures >= self.retry.max_attempts {
                return Err(GraphError::GaveUp {
                    endpoint,
                    attempts: failures + throttled,
                    last: reason,
                });
            }
            let delay = self.retry.backoff(failures);
            tracing::warn!(
                endpoint,
                tenant = call.tenant,
                attempt = failures,
                cause = %reason,
                backoff_ms = delay.as_millis() as u64,
                "call failed: retrying"
            );
            drop((admission, hold));
            self.clock.sleep_until(now + delay).await;
        }
    }

    async fn attempt(&self, request: reqwest::RequestBuilder) -> Attempt {
        let answer = match read(request).await {
            Ok(answer) => answer,
            Err(e) => return Attempt::Failed(describe(&e)),
        };
        let retry_after_given = answer.headers.contains_key(reqwest::header::RETRY_AFTER);
        match answer.status {
            429 => Attempt::Throttled(answer),
            503 if retry_after_given => Attempt::Throttled(answer),
            408 | 500..=599 => Attempt::Failed(format!("HTTP {}", answer.status)),
            _ => Attempt::Done(answer),
        }
    }
}

impl Attempt {
    /// How the attempt ended, for the calls metric: the HTTP status, or
    /// `timeout` or `error` when no answer came.
    fn status(&self) -> String {
        match self {
            Attempt::Done(answer) | Attempt::Throttled(answer) => answer.status.to_string(),
            Attempt::Failed(reason) if reason.starts_with("timeout") => "timeout".to_owned(),
            Attempt::Failed(reason) => match reason.strip_prefix("HTTP ") {
                Some(code) if code.parse::<u16>().is_ok() => code.to_owned(),
                _ => "error".to_owned(),
            },
        }
    }
}

async fn read(request: reqwest::RequestBuilder) -> Result<Answer, reqwest::Error> {
    let mut response = request.send().await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_BODY {
            // Nothing Microsoft sends us is this large: treat as garbage.
            return Ok(Answer {
                status,
                headers,
                body: Bytes::from_static(b"<answer too large>"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        headers,
        body: body.freeze(),
    })
}

/// A transport error without its URL (paths name users).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "connection cut off during the answer"
    } else if e.is_request() {
        "request failed"
    } else {
        "transport error"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if cause.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {cause}")
    }
}
