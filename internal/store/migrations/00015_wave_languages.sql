-- The responses of each wave by the language they were given in, maintained like
-- wave_responded (aggregates.go): a wave's report counts them without reading its responses.

-- +goose Up
CREATE TABLE wave_languages (
    campaign_uid TEXT    NOT NULL,
    wave_id      TEXT    NOT NULL,
    language     TEXT    NOT NULL,
    slot         INTEGER NOT NULL,
    n            BIGINT  NOT NULL,
    PRIMARY KEY (campaign_uid, wave_id, language, slot)
);
INSERT INTO wave_languages (campaign_uid, wave_id, language, slot, n)
SELECT campaign_uid, wave_id, language, 0, COUNT(*) FROM responses GROUP BY campaign_uid, wave_id, language;

-- +goose Down
DROP TABLE wave_languages;
