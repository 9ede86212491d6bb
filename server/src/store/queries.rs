//! The queries: parameterised, the same text for SQLite and PostgreSQL
//! (`$1` placeholders, `ON CONFLICT ... DO UPDATE`, BIGINT and TEXT only).

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, unix_seconds};

/// A signed-in user: `(tenant_id, object_id)` is the identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The Entra ID tenant (`tid`).
    pub tenant_id: String,
    /// The user's object id in that tenant (`oid`).
    pub object_id: String,
    /// User principal name.
    pub upn: String,
    /// Display name.
    pub display_name: String,
}

/// An office's configuration, as created with a Teams tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficeSettings {
    /// The office id (also its map's file stem when `map` is empty).
    pub office_id: String,
    /// The organisation that owns it.
    pub tenant_id: String,
    /// The map the office runs.
    pub map: String,
    /// How far people hear each other, in tiles.
    pub conversation_radius: i64,
    /// `local`, `acs` or `graph`.
    pub meeting_provider: String,
    /// The team that owns it.
    pub team_id: Option<String>,
    /// The channel it was created in.
    pub channel_id: Option<String>,
    /// That channel's name.
    pub channel_name: Option<String>,
}

/// A user's audio and video configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaSettings {
    /// Camera on when joining.
    pub camera_on: bool,
    /// Microphone on when joining.
    pub microphone_on: bool,
    /// Preferred camera.
    pub camera_device: Option<String>,
    /// Preferred microphone.
    pub microphone_device: Option<String>,
    /// Preferred speaker.
    pub speaker_device: Option<String>,
}

const ENSURE_ORGANISATION: &str = "INSERT INTO organisations (tenant_id, created_at) VALUES ($1, $2) \
     ON CONFLICT (tenant_id) DO NOTHING";

fn office_from(row: &AnyRow) -> Result<OfficeSettings, sqlx::Error> {
    Ok(OfficeSettings {
        office_id: row.try_get("office_id")?,
        tenant_id: row.try_get("tenant_id")?,
        map: row.try_get("map")?,
        conversation_radius: row.try_get("conversation_radius")?,
        meeting_provider: row.try_get("meeting_provider")?,
        team_id: row.try_get("team_id")?,
        channel_id: row.try_get("channel_id")?,
        channel_name: row.try_get("channel_name")?,
    })
}

impl Store {
    /// Records a sign-in: the organisation if new, the user's name and UPN.
    pub async fn upsert_user(&self, user: &User) -> Result<(), StoreError> {
        let now = unix_seconds();
        let mut tx = self.pool.begin().await?;
        sqlx::query(ENSURE_ORGANISATION)
            .bind(&user.tenant_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO users (tenant_id, object_id, upn, display_name, updated_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, object_id) DO UPDATE \
             SET upn = excluded.upn, display_name = excluded.display_name, updated_at = excluded.updated_at",
        )
        .bind(&user.tenant_id)
        .bind(&user.object_id)
        .bind(&user.upn)
        .bind(&user.display_name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A user, if known.
    pub async fn user(&self, tenant: &str, object: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(
            "SELECT tenant_id, object_id, upn, display_name FROM users \
             WHERE tenant_id = $1 AND object_id = $2",
        )
        .bind(tenant)
        .bind(object)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(User {
            tenant_id: row.try_get("tenant_id")?,
            object_id: row.try_get("object_id")?,
            upn: row.try_get("upn")?,
            display_name: row.try_get("display_name")?,
        }))
    }

    /// Where the user last stood in `office`.
    pub async fn last_position(
        &self,
        tenant: &str,
        object: &str,
        office: &str,
    ) -> Result<Option<(i32, i32)>, StoreError> {
        let row = sqlx::query(
            "SELECT x, y FROM last_positions WHERE tenant_id = $1 AND object_id = $2 AND office_id = $3",
        )
        .bind(tenant)
        .bind(object)
        .bind(office)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let x: i64 = row.try_get("x")?;
        let y: i64 = row.try_get("y")?;
        Ok(i32::try_from(x).ok().zip(i32::try_from(y).ok()))
    }

    /// Records where the user stands in `office`.
    pub async fn save_position(
        &self,
        tenant: &str,
        object: &str,
        office: &str,
        (x, y): (i32, i32),
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO last_positions (tenant_id, object_id, office_id, x, y, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, object_id, office_id) \
             DO UPDATE SET x = excluded.x, y = excluded.y, updated_at = excluded.updated_at",
        )
        .bind(tenant)
        .bind(object)
        .bind(office)
        .bind(i64::from(x))
        .bind(i64::from(y))
        .bind(unix_seconds())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Creates or replaces an office's configuration (and its organisation).
    pub async fn upsert_office(&self, office: &OfficeSettings) -> Result<(), StoreError> {
        let now = unix_seconds();
        let mut tx = self.pool.begin().await?;
        sqlx::query(ENSURE_ORGANISATION)
            .bind(&office.tenant_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO offices (office_id, tenant_id, map, conversation_radius, meeting_provider, \
             team_id, channel_id, channel_name, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (office_id) DO UPDATE SET tenant_id = excluded.tenant_id, map = excluded.map, \
             conversation_radius = excluded.conversation_radius, meeting_provider = excluded.meeting_provider, \
             team_id = excluded.team_id, channel_id = excluded.channel_id, \
             channel_name = excluded.channel_name, updated_at = excluded.updated_at",
        )
        .bind(&office.office_id)
        .bind(&office.tenant_id)
        .bind(&office.map)
        .bind(office.conversation_radius)
        .bind(&office.meeting_provider)
        .bind(office.team_id.clone())
        .bind(office.channel_id.clone())
        .bind(office.channel_name.clone())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// One office's configuration.
    pub async fn office(&self, id: &str) -> Result<Option<OfficeSettings>, StoreError> {
        let row = sqlx::query(
            "SELECT office_id, tenant_id, map, conversation_radius, meeting_provider, team_id, \
             channel_id, channel_name FROM offices WHERE office_id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(office_from).transpose()?)
    }

    /// Every office's configuration, by id.
    pub async fn offices(&self) -> Result<Vec<OfficeSettings>, StoreError> {
        let rows = sqlx::query(
            "SELECT office_id, tenant_id, map, conversation_radius, meeting_provider, team_id, \
             channel_id, channel_name FROM offices ORDER BY office_id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(office_from).collect::<Result<_, _>>()?)
    }

    /// The configurations written at `since` (Unix seconds) or later, each
    /// with its `updated_at`, for the config sync.
    pub async fn offices_changed_since(
        &self,
        since: i64,
    ) -> Result<Vec<(OfficeSettings, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT office_id, tenant_id, map, conversation_radius, meeting_provider, team_id, \
             channel_id, channel_name, updated_at FROM offices WHERE updated_at >= $1 \
             ORDER BY office_id",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        let read =
            |row: &AnyRow| Ok::<_, sqlx::Error>((office_from(row)?, row.try_get("updated_at")?));
        Ok(rows.iter().map(read).collect::<Result<_, _>>()?)
    }

    /// The ids of every configured office (to notice removed ones).
    pub async fn office_ids(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT office_id FROM offices ORDER BY office_id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|row| row.try_get("office_id"))
            .collect::<Result<_, _>>()?)
    }

    /// A user's audio and video configuration, if set.
    pub async fn media(
        &self,
        tenant: &str,
        object: &str,
    ) -> Result<Option<MediaSettings>, StoreError> {
        let row = sqlx::query(
            "SELECT camera_on, microphone_on, camera_device, microphone_device, speaker_device \
             FROM media_settings WHERE tenant_id = $1 AND object_id = $2",
        )
        .bind(tenant)
        .bind(object)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(MediaSettings {
            camera_on: row.try_get::<i64, _>("camera_on")? != 0,
            microphone_on: row.try_get::<i64, _>("microphone_on")? != 0,
            camera_device: row.try_get("camera_device")?,
            microphone_device: row.try_get("microphone_device")?,
            speaker_device: row.try_get("speaker_device")?,
        }))
    }

    /// Sets a user's audio and video configuration.
    pub async fn set_media(
        &self,
        tenant: &str,
        object: &str,
        media: &MediaSettings,
    ) -> Result<(), StoreError> {
        let now = unix_seconds();
        let mut tx = self.pool.begin().await?;
        sqlx::query(ENSURE_ORGANISATION)
            .bind(tenant)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO media_settings (tenant_id, object_id, camera_on, microphone_on, camera_device, \
             microphone_device, speaker_device, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (tenant_id, object_id) DO UPDATE SET camera_on = excluded.camera_on, \
             microphone_on = excluded.microphone_on, camera_device = excluded.camera_device, \
             microphone_device = excluded.microphone_device, speaker_device = excluded.speaker_device, \
             updated_at = excluded.updated_at",
        )
        .bind(tenant)
        .bind(object)
        .bind(i64::from(media.camera_on))
        .bind(i64::from(media.microphone_on))
        .bind(media.camera_device.clone())
        .bind(media.microphone_device.clone())
        .bind(media.speaker_device.clone())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes an organisation and every row of its tenant, in one
    /// transaction. Returns whether the organisation existed.
    pub async fn remove_organisation(&self, tenant: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        for table in ["last_positions", "media_settings", "offices", "users"] {
            // The table name comes from the list above, never from input.
            sqlx::query(&format!("DELETE FROM {table} WHERE tenant_id = $1"))
                .bind(tenant)
                .execute(&mut *tx)
                .await?;
        }
        let removed = sqlx::query("DELETE FROM organisations WHERE tenant_id = $1")
            .bind(tenant)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(removed > 0)
    }
}
