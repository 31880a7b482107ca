-- Touch-point campaigns (Store.PutTouchPoints, docs/touchpoints.md): which events each
-- campaign takes and when they fall due, and what became of each event it took (a decision,
-- recorded with the invitation it made, in one transaction, so that an event invites once).

-- +goose Up
CREATE TABLE touch_campaigns (
    campaign_uid  TEXT   NOT NULL PRIMARY KEY,
    namespace     TEXT   NOT NULL,
    campaign      TEXT   NOT NULL,
    delay         BIGINT NOT NULL,
    max_age       BIGINT NOT NULL,
    registered_at BIGINT NOT NULL
);
-- One row per event type a campaign takes; source '' is any source.
CREATE TABLE touch_types (
    campaign_uid TEXT NOT NULL,
    namespace    TEXT NOT NULL,
    type         TEXT NOT NULL,
    source       TEXT NOT NULL,
    PRIMARY KEY (campaign_uid, type, source)
);
CREATE INDEX touch_types_namespace ON touch_types (namespace, type);
-- An event's decision by a campaign: invited (its invitation's wave and person), or why not.
-- Only an invited event's decision names its person; the others hold none.
CREATE TABLE touch_decisions (
    campaign_uid  TEXT   NOT NULL,
    source        TEXT   NOT NULL,
    event_id      TEXT   NOT NULL,
    outcome       TEXT   NOT NULL,
    due_at        BIGINT NOT NULL,
    decided_at    BIGINT NOT NULL,
    wave_id       TEXT   NOT NULL,
    recipient_key TEXT   NOT NULL,
    segment       TEXT   NOT NULL,
    attributes    TEXT   NOT NULL,
    PRIMARY KEY (campaign_uid, source, event_id)
);
CREATE INDEX touch_decisions_wave ON touch_decisions (campaign_uid, wave_id);
CREATE INDEX touch_events_type ON touch_events (namespace, type, received_at);

-- +goose Down
DROP INDEX touch_events_type;
DROP INDEX touch_decisions_wave;
DROP TABLE touch_decisions;
DROP INDEX touch_types_namespace;
DROP TABLE touch_types;
DROP TABLE touch_campaigns;
