-- How long each campaign keeps what it holds about people once a wave closes (spec.retention,
-- registered by the manager), and how far each wave's data has expired: responses_purged and
-- invitations_purged say the deletions finished. (A wave's dispositions are kept in its
-- invitations and moved from what is kept there, so a late bounce after the responses expired
-- does not recount one as no answer.)

-- +goose Up
CREATE TABLE retention (
    campaign_uid    TEXT    NOT NULL PRIMARY KEY,
    namespace       TEXT    NOT NULL,
    responses       BIGINT  NOT NULL DEFAULT 0,
    invitations     BIGINT  NOT NULL DEFAULT 0,
    drop_aggregates INTEGER NOT NULL DEFAULT 0,
    updated_at      BIGINT  NOT NULL
);
ALTER TABLE waves ADD COLUMN responses_purged INTEGER NOT NULL DEFAULT 0;
ALTER TABLE waves ADD COLUMN invitations_purged INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE waves DROP COLUMN invitations_purged;
ALTER TABLE waves DROP COLUMN responses_purged;
DROP TABLE retention;
