-- Each campaign's pseudonym key: 32 random bytes, made the first time the campaign's responses
-- are exported. An export names each respondent by an HMAC of their key under it, so the same
-- person has the same pseudonym in every export of the campaign, and the pseudonym cannot be
-- turned back into the key (tenancy references are guessable) without it. It never leaves the
-- store.

-- +goose Up
CREATE TABLE export_keys (
    campaign_uid TEXT PRIMARY KEY,
    key_hex      TEXT NOT NULL
);

-- +goose Down
DROP TABLE export_keys;
