-- Each answer carries its respondent's answer to the wave's primary question, so the drivers'
-- sufficient statistics are one grouped scan instead of a self-join.

-- +goose Up
ALTER TABLE waves ADD COLUMN primary_question TEXT NOT NULL DEFAULT '';
ALTER TABLE answers ADD COLUMN primary_value INTEGER;
CREATE INDEX answers_pairs ON answers (campaign_uid, wave_id, question, value_int, primary_value, not_applicable);

-- +goose Down
DROP INDEX answers_pairs;
ALTER TABLE answers DROP COLUMN primary_value;
ALTER TABLE waves DROP COLUMN primary_question;
