-- Aggregates maintained in the transaction of each write that changes them, so that a wave's
-- summary reads a few hundred rows instead of scanning every answer. Each is a count (n) per
-- cell, spread over slots by the person's key: on PostgreSQL concurrent responses then rarely
-- update the same row (a row lock is held until commit), on SQLite there is one slot. Only a
-- cell's sum over its slots means anything.
--
-- An invitation (round 0) carries its disposition, the one the summary counts it under:
-- complete or partial (a response), refusal (opted out after it was reserved), non-contact
-- (failed or bounced), or no answer. This migration computes them, and the aggregates, from
-- the rows already stored.

-- +goose Up
ALTER TABLE invitations ADD COLUMN disposition TEXT NOT NULL DEFAULT 'noanswer';

CREATE TABLE wave_dispositions (
    campaign_uid TEXT    NOT NULL,
    wave_id      TEXT    NOT NULL,
    segment      TEXT    NOT NULL,
    channel      TEXT    NOT NULL,
    disposition  TEXT    NOT NULL,
    slot         INTEGER NOT NULL,
    n            BIGINT  NOT NULL,
    PRIMARY KEY (campaign_uid, wave_id, segment, channel, disposition, slot)
);

-- Responses by the segment and channel they came through.
CREATE TABLE wave_responded (
    campaign_uid TEXT    NOT NULL,
    wave_id      TEXT    NOT NULL,
    segment      TEXT    NOT NULL,
    channel      TEXT    NOT NULL,
    slot         INTEGER NOT NULL,
    n            BIGINT  NOT NULL,
    PRIMARY KEY (campaign_uid, wave_id, segment, channel, slot)
);

-- Answers on a scale or a choice (value), and "not applicable" (value 0), by question,
-- segment and channel: the histograms.
CREATE TABLE wave_answer_counts (
    campaign_uid   TEXT    NOT NULL,
    wave_id        TEXT    NOT NULL,
    question       TEXT    NOT NULL,
    segment        TEXT    NOT NULL,
    channel        TEXT    NOT NULL,
    not_applicable INTEGER NOT NULL,
    value          INTEGER NOT NULL,
    slot           INTEGER NOT NULL,
    n              BIGINT  NOT NULL,
    PRIMARY KEY (campaign_uid, wave_id, question, segment, channel, not_applicable, value, slot)
);

-- Answers with their respondent's answer to the wave's primary question, both on the scale:
-- the joint counts from which the drivers' sums are exact.
CREATE TABLE wave_answer_pairs (
    campaign_uid  TEXT    NOT NULL,
    wave_id       TEXT    NOT NULL,
    question      TEXT    NOT NULL,
    value         INTEGER NOT NULL,
    primary_value INTEGER NOT NULL,
    slot          INTEGER NOT NULL,
    n             BIGINT  NOT NULL,
    PRIMARY KEY (campaign_uid, wave_id, question, value, primary_value, slot)
);

UPDATE invitations SET disposition = CASE
    WHEN EXISTS (SELECT 1 FROM responses r WHERE r.campaign_uid = invitations.campaign_uid AND r.wave_id = invitations.wave_id
        AND r.recipient_key = invitations.recipient_key AND r.complete = 1) THEN 'complete'
    WHEN EXISTS (SELECT 1 FROM responses r WHERE r.campaign_uid = invitations.campaign_uid AND r.wave_id = invitations.wave_id
        AND r.recipient_key = invitations.recipient_key) THEN 'partial'
    WHEN EXISTS (SELECT 1 FROM opt_outs o WHERE o.namespace = invitations.namespace AND o.recipient_key = invitations.recipient_key
        AND o.opted_out_at >= invitations.reserved_at) THEN 'refusal'
    WHEN state IN ('failed', 'bounced') THEN 'noncontact'
    ELSE 'noanswer' END
WHERE round = 0;

INSERT INTO wave_dispositions (campaign_uid, wave_id, segment, channel, disposition, slot, n)
SELECT campaign_uid, wave_id, segment, channel, disposition, 0, COUNT(*) FROM invitations WHERE round = 0
GROUP BY campaign_uid, wave_id, segment, channel, disposition;

INSERT INTO wave_responded (campaign_uid, wave_id, segment, channel, slot, n)
SELECT campaign_uid, wave_id, segment, channel, 0, COUNT(*) FROM responses
GROUP BY campaign_uid, wave_id, segment, channel;

INSERT INTO wave_answer_counts (campaign_uid, wave_id, question, segment, channel, not_applicable, value, slot, n)
SELECT campaign_uid, wave_id, question, segment, channel, not_applicable, CASE WHEN not_applicable = 1 THEN 0 ELSE value_int END, 0, COUNT(*)
FROM answers WHERE value_int IS NOT NULL OR not_applicable = 1
GROUP BY campaign_uid, wave_id, question, segment, channel, not_applicable, CASE WHEN not_applicable = 1 THEN 0 ELSE value_int END;

INSERT INTO wave_answer_pairs (campaign_uid, wave_id, question, value, primary_value, slot, n)
SELECT campaign_uid, wave_id, question, value_int, primary_value, 0, COUNT(*)
FROM answers WHERE value_int IS NOT NULL AND not_applicable = 0 AND primary_value IS NOT NULL
GROUP BY campaign_uid, wave_id, question, value_int, primary_value;

-- +goose Down
DROP TABLE wave_answer_pairs;
DROP TABLE wave_answer_counts;
DROP TABLE wave_responded;
DROP TABLE wave_dispositions;
ALTER TABLE invitations DROP COLUMN disposition;
