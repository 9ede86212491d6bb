//! What `/metrics` counts of the calls to Microsoft: every request by kind
//! and status, and the waits for the Graph budgets (on the manual clock,
//! against the fake Microsoft).

mod cloud;

use std::sync::Arc;

use cloud::Cloud;
use metaoffice_fakes::{Endpoint, Fault, Times};
use metaoffice_server::graph::{GraphClient, Transport};
use metaoffice_server::metrics::Metrics;

/// The value of the metric line that starts with `prefix`, if any.
fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn calls_are_counted_by_kind_and_status_and_budget_waits_by_kind() {
    let cloud = Cloud::start().await;
    let mut graph = cloud.graph_config();
    graph.budgets.team_members_per_second_per_tenant = 1;
    graph.retry.backoff_base_ms = 1;
    graph.retry.backoff_max_ms = 1;
    let metrics = Metrics::default();
    let transport = Transport::new(&graph.retry, graph.budgets.clone(), cloud.clock.shared())
        .expect("transport")
        .with_metrics(metrics.graph.clone());
    let client = GraphClient::with_transport(&graph, Arc::new(transport)).expect("client");
    cloud.fake.set_team_members("team-1", &["member"]);
    // The first call of the three is retried once after a 503.
    cloud
        .fake
        .fault(Endpoint::TeamMembers, Fault::Status(503), Times::Next(1));
    for _ in 0..3 {
        let member = cloud
            .drive(client.is_team_member("t1", "team-1", "member"))
            .await
            .expect("members");
        assert!(member);
    }
    let text = metrics.render();
    let count = |line: &str| metric(&text, line).unwrap_or(0.0);
    assert_eq!(
        count("metaoffice_graph_calls_total{kind=\"teamMembers\",status=\"200\"}"),
        3.0,
        "{text}"
    );
    assert_eq!(
        count("metaoffice_graph_calls_total{kind=\"teamMembers\",status=\"503\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(
        count("metaoffice_graph_calls_total{kind=\"token\",status=\"200\"}"),
        1.0,
        "{text}"
    );
    // One call a second per tenant: the second and third waited.
    let waits = count("metaoffice_graph_budget_waits_total{kind=\"teamMembers\"}");
    assert!(waits >= 2.0, "{text}");
    let seconds = count("metaoffice_graph_budget_wait_seconds_total{kind=\"teamMembers\"}");
    assert!(seconds >= 1.0, "{text}");
}
