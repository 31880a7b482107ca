-- Addresses known not to work: a person's channel in a namespace, suppressed when an invitation
-- through it bounced (a permanent failure reported by the mail server or the gateway). Sending
-- Jobs leave the person out of that channel in later waves.

-- +goose Up
CREATE TABLE suppressions (
    namespace     TEXT   NOT NULL,
    recipient_key TEXT   NOT NULL,
    channel       TEXT   NOT NULL,
    reason        TEXT   NOT NULL,
    suppressed_at BIGINT NOT NULL,
    PRIMARY KEY (namespace, recipient_key, channel)
);

-- +goose Down
DROP TABLE suppressions;
