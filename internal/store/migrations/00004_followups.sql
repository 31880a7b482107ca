-- FollowUp rules, registered by the manager, and what the response service needs to open cases
-- by them: a Response rule is evaluated as each response is committed, a NonResponse rule when
-- the manager asks for a sweep. Cases carry the segment and channel of their invitation.

-- +goose Up
CREATE TABLE followups (
    followup_uid   TEXT    NOT NULL PRIMARY KEY,
    namespace      TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    campaign_uid   TEXT    NOT NULL,
    trigger_type   TEXT    NOT NULL,
    trigger_when   TEXT    NOT NULL DEFAULT '',
    trigger_after  BIGINT  NOT NULL DEFAULT 0,
    segments       TEXT    NOT NULL DEFAULT '',
    contact_within BIGINT  NOT NULL DEFAULT 0,
    resolve_within BIGINT  NOT NULL DEFAULT 0,
    ticket_key     TEXT    NOT NULL DEFAULT '',
    active         INTEGER NOT NULL DEFAULT 1,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL
);
CREATE INDEX followups_campaign ON followups (campaign_uid, active);

ALTER TABLE followup_cases ADD COLUMN segment TEXT NOT NULL DEFAULT '';
ALTER TABLE followup_cases ADD COLUMN channel TEXT NOT NULL DEFAULT '';
CREATE INDEX followup_cases_contact ON followup_cases (followup_uid, contacted_at, opened_at);

-- +goose Down
DROP INDEX followup_cases_contact;
ALTER TABLE followup_cases DROP COLUMN channel;
ALTER TABLE followup_cases DROP COLUMN segment;
DROP INDEX followups_campaign;
DROP TABLE followups;
