-- Anonymous surveys (spec.survey.anonymous): a wave says it is one, and its written answers are
-- kept apart from everything else, with no column that could name their author: no person's
-- key, no segment, no channel, no time. id is random; on SQLite it is also the row's rowid, so
-- that the rows are stored in an order that says nothing about when each was written. The
-- other answers of an anonymous wave are kept as counts only (the maintained aggregates).

-- +goose Up
ALTER TABLE waves ADD COLUMN anonymous INTEGER NOT NULL DEFAULT 0;
CREATE TABLE anonymous_comments (
    campaign_uid TEXT   NOT NULL,
    wave_id      TEXT   NOT NULL,
    id           BIGINT NOT NULL,
    question     TEXT   NOT NULL,
    comment      TEXT   NOT NULL,
    PRIMARY KEY (campaign_uid, wave_id, id)
);

-- +goose Down
DROP TABLE anonymous_comments;
ALTER TABLE waves DROP COLUMN anonymous;
