//! Conversations over the real protocol: two people standing next to each
//! other in the office both get the same meeting from the local provider.

mod common;

use common::{TestServer, next_matching};
use metaoffice_protocol::{GroupKind, ServerMessage};
use metaoffice_server::Config;

#[tokio::test]
async fn two_people_standing_together_both_get_a_local_meeting() {
    let mut config = Config::default();
    config.conversations.dwell_ms = 200;
    let server = TestServer::start_with(config).await;
    // The first two spawn tiles of the test office are (1, 1) and (2, 1).
    let (mut ada, ada_welcome) = server.join("Ada").await;
    let (mut grace, grace_welcome) = server.join("Grace").await;
    let pair = vec![ada_welcome.avatar, grace_welcome.avatar];
    let mut meetings = Vec::new();
    for client in [&mut ada, &mut grace] {
        let formed = next_matching(client, |m| match m {
            ServerMessage::GroupFormed(g) => Some(g.clone()),
            _ => None,
        })
        .await;
        assert_eq!(formed.kind, GroupKind::Proximity);
        assert_eq!(formed.members, pair);
        let ready = next_matching(client, |m| match m {
            ServerMessage::MeetingReady(r) => Some(r.clone()),
            _ => None,
        })
        .await;
        assert_eq!(ready.group, formed.group);
        assert_eq!(ready.provider, "local");
        assert_eq!(ready.unavailable, None);
        meetings.push(ready.join_url.expect("a join URL"));
    }
    assert!(
        meetings[0].starts_with("local://metaoffice/office/"),
        "{meetings:?}"
    );
    assert_eq!(meetings[0], meetings[1], "the same meeting for both");
    server.stop().await;
}
