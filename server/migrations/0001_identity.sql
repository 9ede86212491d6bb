-- The data the server keeps (DESIGN.md, "Data the server keeps"). Written in
-- SQL that both SQLite and PostgreSQL accept: TEXT, BIGINT, no
-- driver-specific types; times are Unix seconds; flags are 0 or 1.
-- Presence, tokens, conversations and files are never stored.

CREATE TABLE organisations (
    tenant_id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    tenant_id TEXT NOT NULL,
    object_id TEXT NOT NULL,
    upn TEXT NOT NULL,
    display_name TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, object_id)
);

CREATE TABLE offices (
    office_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    map TEXT NOT NULL,
    conversation_radius BIGINT NOT NULL,
    meeting_provider TEXT NOT NULL,
    team_id TEXT,
    channel_id TEXT,
    channel_name TEXT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX offices_by_tenant ON offices (tenant_id);

CREATE TABLE media_settings (
    tenant_id TEXT NOT NULL,
    object_id TEXT NOT NULL,
    camera_on BIGINT NOT NULL,
    microphone_on BIGINT NOT NULL,
    camera_device TEXT,
    microphone_device TEXT,
    speaker_device TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, object_id)
);

CREATE TABLE last_positions (
    tenant_id TEXT NOT NULL,
    object_id TEXT NOT NULL,
    office_id TEXT NOT NULL,
    x BIGINT NOT NULL,
    y BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, object_id, office_id)
);
