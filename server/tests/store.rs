//! Storage on SQLite always, and on PostgreSQL when `DATABASE_URL` is set:
//! the same migrations and queries, the store task's retries, removing an
//! organisation.

mod common;

use std::time::Duration;

use common::db::TestDb;
use metaoffice_server::store::queries::{MediaSettings, OfficeSettings, User};
use metaoffice_server::store::{Store, StoreWriter, Write};
use sqlx::Executor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

fn user(tenant: &str, oid: &str, name: &str) -> User {
    User {
        tenant_id: tenant.to_owned(),
        object_id: oid.to_owned(),
        upn: format!("{oid}@{tenant}.example"),
        display_name: name.to_owned(),
    }
}

fn office(id: &str, tenant: &str) -> OfficeSettings {
    OfficeSettings {
        office_id: id.to_owned(),
        tenant_id: tenant.to_owned(),
        map: "office".to_owned(),
        conversation_radius: 3,
        meeting_provider: "local".to_owned(),
        team_id: Some("team-1".to_owned()),
        channel_id: Some("19:abc@thread.tacv2".to_owned()),
        channel_name: Some("General".to_owned()),
    }
}

/// Runs `check` on every test database.
async fn on_every_database<F, Fut>(check: F)
where
    F: Fn(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("tempdir");
    for db in TestDb::all(dir.path()).await {
        let store = Store::open(&db.url).await.expect("opens and migrates");
        check(store.clone()).await;
        store.close().await;
        // Opening again finds the migrations applied.
        let again = Store::open(&db.url).await.expect("opens again");
        again.close().await;
        db.drop_schema().await;
    }
}

#[tokio::test]
async fn users_are_updated_at_each_login() {
    on_every_database(|store| async move {
        store
            .upsert_user(&user("t1", "o1", "Ann"))
            .await
            .expect("insert");
        store
            .upsert_user(&user("t1", "o1", "Ann Smith"))
            .await
            .expect("update");
        let found = store.user("t1", "o1").await.expect("read").expect("there");
        assert_eq!(found.display_name, "Ann Smith");
        assert_eq!(store.user("t1", "nobody").await.expect("read"), None);
    })
    .await;
}

#[tokio::test]
async fn positions_offices_and_media_round_trip() {
    on_every_database(|store| async move {
        assert_eq!(
            store.last_position("t1", "o1", "hq").await.expect("read"),
            None
        );
        store
            .save_position("t1", "o1", "hq", (3, 4))
            .await
            .expect("save");
        store
            .save_position("t1", "o1", "hq", (5, 2))
            .await
            .expect("save");
        store
            .save_position("t1", "o1", "lab", (1, 1))
            .await
            .expect("save");
        assert_eq!(
            store.last_position("t1", "o1", "hq").await.expect("read"),
            Some((5, 2))
        );
        store
            .upsert_office(&office("hq", "t1"))
            .await
            .expect("office");
        let mut changed = office("hq", "t1");
        changed.conversation_radius = 5;
        changed.team_id = None;
        store.upsert_office(&changed).await.expect("office");
        assert_eq!(store.office("hq").await.expect("read"), Some(changed));
        assert_eq!(store.offices().await.expect("list").len(), 1);
        let media = MediaSettings {
            camera_on: true,
            microphone_on: false,
            camera_device: Some("Front camera".to_owned()),
            microphone_device: None,
            speaker_device: Some("Headset 'Pro'; DROP TABLE users".to_owned()),
        };
        store.set_media("t1", "o1", &media).await.expect("media");
        assert_eq!(store.media("t1", "o1").await.expect("read"), Some(media));
        assert_eq!(store.media("t1", "o2").await.expect("read"), None);
    })
    .await;
}

#[tokio::test]
async fn removing_an_organisation_removes_all_its_rows_and_no_others() {
    on_every_database(|store| async move {
        for tenant in ["gone", "kept"] {
            store
                .upsert_user(&user(tenant, "o1", "A"))
                .await
                .expect("user");
            store
                .save_position(tenant, "o1", "hq", (1, 2))
                .await
                .expect("pos");
            store
                .upsert_office(&office(&format!("hq-{tenant}"), tenant))
                .await
                .expect("office");
            store
                .set_media(tenant, "o1", &MediaSettings::default())
                .await
                .expect("media");
        }
        assert!(store.remove_organisation("gone").await.expect("remove"));
        assert!(!store.remove_organisation("gone").await.expect("again"));
        assert_eq!(store.user("gone", "o1").await.expect("read"), None);
        assert_eq!(
            store.last_position("gone", "o1", "hq").await.expect("read"),
            None
        );
        assert_eq!(store.office("hq-gone").await.expect("read"), None);
        assert_eq!(store.media("gone", "o1").await.expect("read"), None);
        assert!(store.user("kept", "o1").await.expect("read").is_some());
        assert!(store.office("hq-kept").await.expect("read").is_some());
        assert!(store.media("kept", "o1").await.expect("read").is_some());
    })
    .await;
}

#[tokio::test]
async fn the_store_task_retries_until_the_database_is_back() {
    on_every_database(|store| async move {
        let stop = CancellationToken::new();
        let tasks = TaskTracker::new();
        let writer = StoreWriter::start(store.clone(), stop.clone(), &tasks);
        // The table goes away: writes fail and are retried.
        store
            .pool()
            .execute("ALTER TABLE last_positions RENAME TO last_positions_away")
            .await
            .expect("rename");
        assert!(writer.send(Write::Position {
            tenant_id: "t1".into(),
            object_id: "o1".into(),
            office_id: "hq".into(),
            tile: (7, 3),
        }));
        assert!(writer.send(Write::User(user("t1", "o1", "Ann"))));
        tokio::time::sleep(Duration::from_millis(300)).await;
        store
            .pool()
            .execute("ALTER TABLE last_positions_away RENAME TO last_positions")
            .await
            .expect("rename back");
        // Removal waits for every write queued before it.
        let mut found = None;
        for _ in 0..100 {
            found = store.user("t1", "o1").await.expect("read");
            if found.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(found.is_some(), "the queued writes were applied");
        assert_eq!(
            store.last_position("t1", "o1", "hq").await.expect("read"),
            Some((7, 3))
        );
        assert!(writer.remove_organisation("t1").await.expect("removed"));
        stop.cancel();
        tasks.close();
        tasks.wait().await;
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_database_is_a_clear_error_at_start() {
    let error = Store::open("postgres://postgres@127.0.0.1:1/test")
        .await
        .expect_err("nothing listens on port 1")
        .to_string();
    assert!(error.contains("database"), "{error}");
}
