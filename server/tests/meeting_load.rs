//! 1,000 avatars form 500 pairs at once: 500 meeting requests through one
//! desk to Graph (the fake, enforcing the budgets itself). Every pair gets
//! its own meeting, no call is throttled, and the recorded calls never
//! exceed a budget in any window. Runs on the manual clock: waiting for a
//! budget costs no real time.

mod cloud;

use std::collections::HashSet;
use std::time::Duration;

use cloud::{Cloud, desk, group, max_in_window, outcomes};
use metaoffice_fakes::{Endpoint, Limit, LimitScope};
use metaoffice_server::graph::BudgetConfig;
use metaoffice_server::meetings::{MeetingKey, ProviderChoice, ProviderKind, Providers};

const AVATARS: usize = 1000;
const TENANTS: usize = 5;

fn tenant_of(pair: usize) -> String {
    format!("tenant-{}", pair % TENANTS)
}

async fn five_hundred_pairs(budgets: BudgetConfig) -> Cloud {
    let cloud = Cloud::start().await;
    let mut config = cloud.config();
    config.meetings.provider = ProviderChoice::Graph;
    config.graph.budgets = budgets.clone();
    config.validate().expect("valid");
    // The fake throttles by itself if the server ever goes over.
    cloud.fake.enforce(Limit {
        endpoint: None,
        scope: LimitScope::Global,
        max: budgets.all_calls_per_second,
        window: Duration::from_secs(1),
    });
    let providers = Providers::from_config(&config, cloud.clock.shared()).expect("providers");
    let (desk, mut rx, _stop) = desk(&config, providers);
    let pairs = AVATARS / 2;
    for pair in 0..pairs {
        let tenant = tenant_of(pair);
        let a = format!("user-{:04}", 2 * pair);
        let b = format!("user-{:04}", 2 * pair + 1);
        desk.request(group(
            MeetingKey::group("demo", pair as u64),
            &tenant,
            &[(&tenant, &a), (&tenant, &b)],
        ))
        .expect("the desk takes all 500 at once");
    }
    let got = outcomes(&cloud.clock, &mut rx, pairs).await;
    assert_eq!(got.len(), pairs);
    let keys: HashSet<_> = got.iter().map(|o| o.key.clone()).collect();
    assert_eq!(keys.len(), pairs, "one outcome per pair");
    let mut meeting_ids = HashSet::new();
    for outcome in &got {
        let info = outcome
            .result
            .as_ref()
            .expect("every pair gets its meeting");
        assert_eq!(info.provider, ProviderKind::Graph);
        let pair = outcome
            .key
            .0
            .rsplit('/')
            .next()
            .and_then(|n| n.parse::<usize>().ok());
        let pair = pair.expect("key");
        let organizer = info.organizer.as_ref().expect("organizer");
        assert_eq!(
            organizer.oid,
            format!("user-{:04}", 2 * pair),
            "smallest oid organizes"
        );
        assert_eq!(organizer.tenant, tenant_of(pair));
        meeting_ids.insert(info.meeting_id.clone());
    }
    assert_eq!(meeting_ids.len(), pairs, "each pair its own meeting");
    assert_eq!(cloud.fake.meetings().len(), pairs);

    let calls = cloud.fake.calls_to(Endpoint::CreateOrGet);
    assert_eq!(calls.len(), pairs, "one createOrGet per pair");
    assert!(
        calls.iter().all(|c| c.status == 201),
        "no call throttled or failed"
    );
    let tokens = cloud.fake.calls_to(Endpoint::Token);
    assert_eq!(tokens.len(), TENANTS, "one app token per tenant");
    assert!(cloud.fake.calls().iter().all(|c| c.status != 429));
    let worst = max_in_window(&calls, Duration::from_secs(1), |_| ());
    assert!(
        worst <= budgets.all_calls_per_second as usize,
        "{worst} calls within one second, budget {}",
        budgets.all_calls_per_second
    );
    let per_organizer = max_in_window(&calls, Duration::from_secs(31 * 86_400), |c| c.path.clone());
    assert!(per_organizer <= budgets.meetings_per_user_per_month as usize);
    cloud
}

#[tokio::test]
async fn five_hundred_pairs_get_meetings_under_the_product_budgets() {
    five_hundred_pairs(BudgetConfig::default()).await;
}

#[tokio::test]
async fn five_hundred_pairs_queue_for_a_tight_budget_and_never_trip_it() {
    let budgets = BudgetConfig {
        all_calls_per_second: 40,
        ..BudgetConfig::default()
    };
    let cloud = five_hundred_pairs(budgets).await;
    // 500 calls at 40 per second take at least 12 seconds of (manual) time.
    let calls = cloud.fake.calls_to(Endpoint::CreateOrGet);
    let first = calls.iter().map(|c| c.at).min().expect("calls");
    let last = calls.iter().map(|c| c.at).max().expect("calls");
    assert!(
        last - first >= Duration::from_secs(12),
        "calls were spread over {:?} only",
        last - first
    );
}
