-- The HMAC keys of a wave's webhook channels, so that answers arriving from a gateway (an SMS
-- reply) can be authenticated. Registered by the manager with the wave; they may rotate.

-- +goose Up
CREATE TABLE wave_channel_keys (
    campaign_uid TEXT NOT NULL,
    wave_id      TEXT NOT NULL,
    channel      TEXT NOT NULL,
    hmac_key     TEXT NOT NULL,
    PRIMARY KEY (campaign_uid, wave_id, channel)
);

-- +goose Down
DROP TABLE wave_channel_keys;
