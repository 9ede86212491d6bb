//! Office settings in force: what the admin API stored for each office
//! (map, conversation radius, meeting provider, organisation and team),
//! applied to running offices without a restart.
//!
//! - [`SettingsBook`] keeps an in-memory copy of every stored office
//!   configuration: joins check access against it, never the database.
//! - [`prepare`] checks a configuration against this server (the provider
//!   must be configured here, the map must exist in the maps folder and
//!   load) and loads its map off the tick; [`apply`] puts it in force:
//!   the provider for the office's next meetings, a new map through
//!   [`OfficeCommand::ReplaceMap`] (exactly as when a map file changes),
//!   the conversation radius through [`OfficeCommand::Configure`], both
//!   handled in the office's receive phase, so at the next tick. An office
//!   whose id has no map file opens on the map its configuration names.
//! - [`forget`] takes an office's configuration away (its organisation was
//!   removed): an office that exists only by configuration closes, one with
//!   a map file of its own goes back to that map and the defaults.
//! - [`sync`] applies what the database holds at start, then polls it for
//!   rows written since it last looked (by other nodes sharing one
//!   PostgreSQL), off the tick.
//!
//! Everything that applies settings holds [`SettingsBook::applying`], so a
//! poll never puts back a configuration the admin API just replaced.

pub mod sync;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::map::{OfficeMap, is_map_file, load_map};
use crate::meetings::ProviderKind;
use crate::office::network::OfficeCommand;
use crate::office::settings::{LiveSettings, conversations_for_radius};
use crate::server::{ServerContext, office_collision_rule, open_office};
use crate::store::queries::OfficeSettings;

/// Every stored office configuration, as last applied.
#[derive(Debug, Default)]
pub struct SettingsBook {
    offices: RwLock<HashMap<String, OfficeSettings>>,
    /// Held while settings are read from the database and applied.
    pub applying: tokio::sync::Mutex<()>,
}

impl SettingsBook {
    /// The stored configuration of `office`, if any.
    pub fn get(&self, office: &str) -> Option<OfficeSettings> {
        self.read().get(office).cloned()
    }

    /// The offices of `tenant`.
    pub fn of_tenant(&self, tenant: &str) -> Vec<String> {
        self.read()
            .values()
            .filter(|s| s.tenant_id == tenant)
            .map(|s| s.office_id.clone())
            .collect()
    }

    /// Every configured office.
    pub fn ids(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, OfficeSettings>> {
        self.offices.read().unwrap_or_else(|e| e.into_inner())
    }

    fn insert(&self, settings: OfficeSettings) {
        let mut offices = self.offices.write().unwrap_or_else(|e| e.into_inner());
        offices.insert(settings.office_id.clone(), settings);
    }

    fn remove(&self, office: &str) -> Option<OfficeSettings> {
        let mut offices = self.offices.write().unwrap_or_else(|e| e.into_inner());
        offices.remove(office)
    }
}

/// A configuration this server cannot apply, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SettingsError {
    /// The field, as the admin API names it.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

/// A configuration checked against this server, its map loaded if the
/// office does not run it yet.
#[derive(Debug)]
pub struct Prepared {
    /// The configuration.
    pub settings: OfficeSettings,
    /// The map to swap in (or open the office on); `None` when the office
    /// already runs it.
    pub map: Option<Arc<OfficeMap>>,
}

/// The name of `map`: its file's name without extension.
pub fn map_name(map: &OfficeMap) -> String {
    map.path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned()
}

/// The map file called `name` (without extension) in `folder`, if any.
pub fn find_map_file(folder: &Path, name: &str) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(folder)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| is_map_file(p) && p.file_stem().and_then(|s| s.to_str()) == Some(name))
        .collect();
    found.sort();
    found.into_iter().next()
}

/// Loads the map called `name` from the maps folder as offices do (same
/// loader, rule and folder), off the async threads. The error is
/// check-map's message.
pub async fn load_named_map(ctx: &ServerContext, name: &str) -> Result<Arc<OfficeMap>, String> {
    let folder = ctx.config.maps.clone();
    let rule = office_collision_rule(&ctx.config);
    let name = name.to_owned();
    let load = tokio::task::spawn_blocking(move || {
        let Some(path) = find_map_file(&folder, &name) else {
            return Err(format!(
                "no map called '{name}' (.tmj, .json or .tmx) in the maps folder"
            ));
        };
        load_map(&path, &rule, Some(&folder))
            .map(Arc::new)
            .map_err(|e| e.to_string())
    });
    load.await
        .unwrap_or_else(|_| Err("the map could not be read".to_owned()))
}

/// Checks `settings` against this server and loads the map it names when
/// the office does not run that map yet.
pub async fn prepare(
    ctx: &ServerContext,
    settings: OfficeSettings,
) -> Result<Prepared, SettingsError> {
    let kind = ProviderKind::parse(&settings.meeting_provider).ok_or_else(|| SettingsError {
        field: "meeting_provider",
        message: "must be one of local, acs, graph".to_owned(),
    })?;
    if !ctx.providers.is_available(kind) {
        return Err(SettingsError {
            field: "meeting_provider",
            message: crate::meetings::ProviderUnavailable(kind).to_string(),
        });
    }
    let runs = ctx
        .offices
        .get(&settings.office_id)
        .is_some_and(|office| office.map == settings.map);
    let map = if runs {
        None
    } else {
        let map = load_named_map(ctx, &settings.map)
            .await
            .map_err(|message| SettingsError {
                field: "map",
                message,
            })?;
        Some(map)
    };
    Ok(Prepared { settings, map })
}

/// Swaps `map` into the running office `id` at its next tick, as the map
/// watcher does (clients get `MapChanged` and a snapshot); `false` if the
/// office is not running.
pub async fn replace_map(ctx: &ServerContext, id: &str, map: Arc<OfficeMap>) -> bool {
    let inbox = match ctx.offices.get_mut(id) {
        Some(mut office) => {
            office.map = map_name(&map);
            office.client_map = map.client_json.clone();
            office.map_images = Arc::new(map.images.clone());
            office.inbox.clone()
        }
        None => return false,
    };
    // Waits only for room in the office's inbox, never for a tick.
    let _ = inbox.send(OfficeCommand::ReplaceMap { map }).await;
    true
}

async fn configure(ctx: &ServerContext, id: &str, live: LiveSettings) {
    let inbox = ctx.offices.get(id).map(|office| office.inbox.clone());
    if let Some(inbox) = inbox {
        let _ = inbox.send(OfficeCommand::Configure(live)).await;
    }
}

/// Puts a prepared configuration in force (see the module docs). A
/// provider this server lacks (a row another node wrote) falls back to the
/// configuration file's choice, with a warning.
pub async fn apply(ctx: &ServerContext, prepared: Prepared) {
    let Prepared { settings, map } = prepared;
    let id = settings.office_id.clone();
    let wanted = ProviderKind::parse(&settings.meeting_provider);
    let provider = ctx.providers.set_office(&id, wanted).unwrap_or_else(|e| {
        tracing::warn!(office = %id, "meeting provider {e}: the office keeps the configured one");
        ctx.providers
            .set_office(&id, None)
            .unwrap_or(ProviderKind::Local)
    });
    let live = LiveSettings {
        conversations: conversations_for_radius(
            &ctx.config.conversations,
            settings.conversation_radius,
        ),
        provider,
    };
    ctx.settings.insert(settings);
    if let Some(map) = map
        && !replace_map(ctx, &id, map.clone()).await
    {
        open_office(ctx, &id, &map);
    }
    configure(ctx, &id, live).await;
    tracing::info!(office = %id, "office settings applied");
}

/// Applies the stored configuration of `id` to an office just opened (a
/// map file appeared), if it has one.
pub async fn apply_stored(ctx: &ServerContext, id: &str) {
    let Some(settings) = ctx.settings.get(id) else {
        return;
    };
    let _applying = ctx.settings.applying.lock().await;
    match prepare(ctx, settings.clone()).await {
        Ok(prepared) => apply(ctx, prepared).await,
        Err(e) => {
            tracing::warn!(office = %id, "stored settings not applied: {e}");
            // Access rules hold whatever the map.
            apply(
                ctx,
                Prepared {
                    settings,
                    map: None,
                },
            )
            .await;
        }
    }
}

/// Takes `id`'s configuration away (the caller holds
/// [`SettingsBook::applying`]): an office that exists only by its
/// configuration closes; one with a map file of its own goes back to that
/// map and the configuration file's rules.
pub async fn forget(ctx: &ServerContext, id: &str) {
    ctx.settings.remove(id);
    let provider = ctx
        .providers
        .set_office(id, None)
        .unwrap_or(ProviderKind::Local);
    let runs = ctx.offices.get(id).map(|office| office.map.clone());
    let Some(running_map) = runs else {
        return;
    };
    let own_file = find_map_file(&ctx.config.maps, id).is_some();
    if !own_file {
        if let Some((_, office)) = ctx.offices.remove(id) {
            office.closing.cancel();
        }
        tracing::info!(office = %id, "office closed: its configuration was removed");
        return;
    }
    if running_map != id {
        match load_named_map(ctx, id).await {
            Ok(map) => {
                replace_map(ctx, id, map).await;
            }
            Err(e) => {
                tracing::warn!(office = %id, "the office keeps its map: its own map file fails: {e}");
            }
        }
    }
    let live = LiveSettings {
        conversations: ctx.config.conversations.clone(),
        provider,
    };
    configure(ctx, id, live).await;
    tracing::info!(office = %id, "office settings removed: back to the defaults");
}

/// Takes away the configuration of every office of `tenant` (its
/// organisation was removed).
pub async fn forget_tenant(ctx: &ServerContext, tenant: &str) {
    let _applying = ctx.settings.applying.lock().await;
    for id in ctx.settings.of_tenant(tenant) {
        forget(ctx, &id).await;
    }
}
