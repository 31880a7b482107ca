-- The frame of a wave: per segment, the people the segment matched in the audience before
-- sampling (population), those of them no channel could reach, and those sampled. Every shard
-- of a sending Job counts the whole audience, so each records the same frame; the people each
-- left out of its own part (opted out, contacted recently) are its own. A rerun replaces its
-- shard's rows, so the figures are recorded once however often they are sent.

-- +goose Up
CREATE TABLE wave_frames (
    campaign_uid       TEXT    NOT NULL,
    wave_id            TEXT    NOT NULL,
    shard              INTEGER NOT NULL,
    segment            TEXT    NOT NULL,
    population         INTEGER NOT NULL,
    unreachable        INTEGER NOT NULL,
    sampled            INTEGER NOT NULL,
    opted_out          INTEGER NOT NULL,
    contacted_recently INTEGER NOT NULL,
    PRIMARY KEY (campaign_uid, wave_id, shard, segment)
);

-- +goose Down
DROP TABLE wave_frames;
