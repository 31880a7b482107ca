-- Erasure (Store.Erase): the log of erasures, which records that one happened in a namespace
-- and when, never whom or what; the opt-outs and bounce suppressions of erased people, kept
-- under a hash of their key so that they are still honoured; and the indexes that find one
-- person's rows in a namespace.

-- +goose Up
CREATE TABLE erasures (
    id        TEXT   NOT NULL PRIMARY KEY,
    namespace TEXT   NOT NULL,
    erased_at BIGINT NOT NULL
);
CREATE INDEX erasures_namespace ON erasures (namespace, erased_at);
CREATE TABLE erased_suppressions (
    namespace     TEXT   NOT NULL,
    key_hash      TEXT   NOT NULL,
    channel       TEXT   NOT NULL,
    reason        TEXT   NOT NULL,
    suppressed_at BIGINT NOT NULL,
    PRIMARY KEY (namespace, key_hash, channel)
);
CREATE INDEX responses_person ON responses (namespace, recipient_key);
CREATE INDEX followup_cases_person ON followup_cases (namespace, recipient_key);

-- +goose Down
DROP INDEX followup_cases_person;
DROP INDEX responses_person;
DROP TABLE erased_suppressions;
DROP INDEX erasures_namespace;
DROP TABLE erasures;
