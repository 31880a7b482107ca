-- The first schema. Portable SQL: SQLite and PostgreSQL run it as it is. Times are Unix
-- microseconds (BIGINT), booleans 0/1 (INTEGER).

-- +goose Up
CREATE TABLE waves (
    campaign_uid    TEXT    NOT NULL,
    wave_id         TEXT    NOT NULL,
    namespace       TEXT    NOT NULL,
    campaign        TEXT    NOT NULL,
    definition      TEXT    NOT NULL,
    definition_hash TEXT    NOT NULL,
    opens_at        BIGINT  NOT NULL,
    closes_at       BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL,
    PRIMARY KEY (campaign_uid, wave_id)
);

-- The ledger: one row per message (round 0 the invitation, round n the n-th reminder),
-- recorded before it is sent.
CREATE TABLE invitations (
    campaign_uid  TEXT    NOT NULL,
    wave_id       TEXT    NOT NULL,
    recipient_key TEXT    NOT NULL,
    round         INTEGER NOT NULL,
    namespace     TEXT    NOT NULL,
    segment       TEXT    NOT NULL,
    channel       TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    reason        TEXT    NOT NULL DEFAULT '',
    reserved_at   BIGINT  NOT NULL,
    sent_at       BIGINT,
    updated_at    BIGINT  NOT NULL,
    PRIMARY KEY (campaign_uid, wave_id, recipient_key, round)
);
CREATE INDEX invitations_contacted ON invitations (namespace, recipient_key, sent_at);

CREATE TABLE responses (
    campaign_uid  TEXT    NOT NULL,
    wave_id       TEXT    NOT NULL,
    recipient_key TEXT    NOT NULL,
    namespace     TEXT    NOT NULL,
    segment       TEXT    NOT NULL,
    channel       TEXT    NOT NULL,
    complete      INTEGER NOT NULL,
    submitted_at  BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    PRIMARY KEY (campaign_uid, wave_id, recipient_key)
);

-- Answers carry their response's segment and channel so that breakdowns need no join.
CREATE TABLE answers (
    campaign_uid   TEXT    NOT NULL,
    wave_id        TEXT    NOT NULL,
    recipient_key  TEXT    NOT NULL,
    question       TEXT    NOT NULL,
    segment        TEXT    NOT NULL,
    channel        TEXT    NOT NULL,
    value_int      INTEGER,
    value_text     TEXT,
    not_applicable INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_uid, wave_id, recipient_key, question)
);
CREATE INDEX answers_histogram ON answers (campaign_uid, wave_id, question, segment, channel, value_int, not_applicable);

CREATE TABLE opt_outs (
    namespace     TEXT   NOT NULL,
    recipient_key TEXT   NOT NULL,
    opted_out_at  BIGINT NOT NULL,
    PRIMARY KEY (namespace, recipient_key)
);

CREATE TABLE followup_cases (
    followup_uid  TEXT   NOT NULL,
    campaign_uid  TEXT   NOT NULL,
    wave_id       TEXT   NOT NULL,
    recipient_key TEXT   NOT NULL,
    namespace     TEXT   NOT NULL,
    opened_at     BIGINT NOT NULL,
    contact_due   BIGINT,
    resolve_due   BIGINT,
    contacted_at  BIGINT,
    resolved_at   BIGINT,
    ticket_ref    TEXT   NOT NULL DEFAULT '',
    PRIMARY KEY (followup_uid, campaign_uid, wave_id, recipient_key)
);

-- +goose Down
DROP TABLE followup_cases;
DROP TABLE opt_outs;
DROP TABLE answers;
DROP TABLE responses;
DROP TABLE invitations;
DROP TABLE waves;
