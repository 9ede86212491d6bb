//! The admin handlers: parse, validate (400 naming the field), act.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{AdminError, invalid};
use crate::office::settings::MAX_CONVERSATION_RADIUS;
use crate::server::ServerContext;
use crate::settings;
use crate::store::queries::{MediaSettings, OfficeSettings};

/// Longest free-text field, in characters.
const MAX_TEXT: usize = 256;

/// Meeting providers an office may use.
const PROVIDERS: &[&str] = &["local", "acs", "graph"];

/// A body for `PUT /admin/offices/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OfficeInput {
    tenant_id: String,
    #[serde(default)]
    map: Option<String>,
    #[serde(default)]
    conversation_radius: Option<i64>,
    #[serde(default)]
    meeting_provider: Option<String>,
    #[serde(default)]
    team_id: Option<String>,
    #[serde(default)]
    channel_id: Option<String>,
    #[serde(default)]
    channel_name: Option<String>,
}

/// Parses a JSON body; serde's message names the field at fault.
fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, AdminError> {
    serde_json::from_slice(body).map_err(|e| {
        let text = e.to_string();
        // serde names fields as `name`; report the first one it names.
        let field = text
            .split('`')
            .nth(1)
            .filter(|f| f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or("body");
        invalid(field, text.clone())
    })
}

/// An id made of letters, digits, `-`, `_` and `.`, 1 to 64 long.
fn check_id(field: &str, value: &str) -> Result<(), AdminError> {
    let ok = (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            "must be 1 to 64 letters, digits, '-', '_' or '.'",
        ))
    }
}

fn check_text(field: &str, value: Option<&str>) -> Result<(), AdminError> {
    match value {
        Some(v) if v.is_empty() || v.chars().count() > MAX_TEXT => Err(invalid(
            field,
            format!("must have 1 to {MAX_TEXT} characters"),
        )),
        Some(v) if v.chars().any(char::is_control) => {
            Err(invalid(field, "must not hold control characters"))
        }
        _ => Ok(()),
    }
}

pub(super) async fn list_offices(
    State(ctx): State<Arc<ServerContext>>,
) -> Result<Json<Value>, AdminError> {
    let mut offices: BTreeMap<String, Value> = BTreeMap::new();
    for settings in ctx.store.offices().await? {
        offices.insert(
            settings.office_id.clone(),
            json!({ "id": settings.office_id, "settings": settings, "running": false, "people": [] }),
        );
    }
    for office in ctx.offices.iter() {
        let id = office.key().clone();
        let entry = offices
            .entry(id.clone())
            .or_insert_with(|| json!({ "id": id, "settings": null }));
        entry["running"] = json!(true);
        entry["people"] = json!(ctx.sessions.in_office(&id));
    }
    Ok(Json(
        json!({ "offices": offices.into_values().collect::<Vec<_>>() }),
    ))
}

pub(super) async fn get_office(
    State(ctx): State<Arc<ServerContext>>,
    Path(id): Path<String>,
) -> Result<Json<OfficeSettings>, AdminError> {
    check_id("id", &id)?;
    ctx.store
        .office(&id)
        .await?
        .map(Json)
        .ok_or(AdminError::NotFound)
}

pub(super) async fn put_office(
    State(ctx): State<Arc<ServerContext>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<OfficeSettings>, AdminError> {
    check_id("id", &id)?;
    let input: OfficeInput = parse(&body)?;
    check_id("tenant_id", &input.tenant_id)?;
    let map = input.map.unwrap_or_else(|| id.clone());
    check_id("map", &map)?;
    let radius = input.conversation_radius.unwrap_or(3);
    if !(1..=MAX_CONVERSATION_RADIUS).contains(&radius) {
        return Err(invalid(
            "conversation_radius",
            format!("must be 1 to {MAX_CONVERSATION_RADIUS} tiles"),
        ));
    }
    let provider = input.meeting_provider.unwrap_or_else(|| "local".to_owned());
    if !PROVIDERS.contains(&provider.as_str()) {
        return Err(invalid(
            "meeting_provider",
            "must be one of local, acs, graph",
        ));
    }
    check_text("team_id", input.team_id.as_deref())?;
    check_text("channel_id", input.channel_id.as_deref())?;
    check_text("channel_name", input.channel_name.as_deref())?;
    let settings = OfficeSettings {
        office_id: id,
        tenant_id: input.tenant_id,
        map,
        conversation_radius: radius,
        meeting_provider: provider,
        team_id: input.team_id,
        channel_id: input.channel_id,
        channel_name: input.channel_name,
    };
    // Checked (provider configured here, map loads) before it is stored,
    // then put in force at once; other nodes get it through their config sync.
    let _applying = ctx.settings.applying.lock().await;
    let prepared = settings::prepare(&ctx, settings)
        .await
        .map_err(|e| invalid(e.field, e.message))?;
    ctx.store.upsert_office(&prepared.settings).await?;
    let saved = prepared.settings.clone();
    settings::apply(&ctx, prepared).await;
    tracing::info!(office = %saved.office_id, tenant = %saved.tenant_id, "office configuration saved");
    Ok(Json(saved))
}

pub(super) async fn get_media(
    State(ctx): State<Arc<ServerContext>>,
    Path((tenant, oid)): Path<(String, String)>,
) -> Result<Json<MediaSettings>, AdminError> {
    check_id("tenant", &tenant)?;
    check_id("oid", &oid)?;
    ctx.store
        .media(&tenant, &oid)
        .await?
        .map(Json)
        .ok_or(AdminError::NotFound)
}

pub(super) async fn put_media(
    State(ctx): State<Arc<ServerContext>>,
    Path((tenant, oid)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<MediaSettings>, AdminError> {
    check_id("tenant", &tenant)?;
    check_id("oid", &oid)?;
    let media: MediaSettings = parse(&body)?;
    check_text("camera_device", media.camera_device.as_deref())?;
    check_text("microphone_device", media.microphone_device.as_deref())?;
    check_text("speaker_device", media.speaker_device.as_deref())?;
    ctx.store.set_media(&tenant, &oid, &media).await?;
    Ok(Json(media))
}

pub(super) async fn remove_organisation(
    State(ctx): State<Arc<ServerContext>>,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, AdminError> {
    check_id("tenant", &tenant)?;
    // Sessions first, so that nothing of theirs is written after the rows go.
    let disconnected = ctx.sessions.disconnect_tenant(&tenant);
    let removed = ctx.writer.remove_organisation(&tenant).await?;
    settings::forget_tenant(&ctx, &tenant).await;
    tracing::info!(%tenant, removed, disconnected, "organisation removed");
    Ok(Json(
        json!({ "tenant_id": tenant, "removed": removed, "disconnected": disconnected }),
    ))
}
