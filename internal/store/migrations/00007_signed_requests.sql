-- The signatures of the signed requests (a gateway's answers, a helpdesk's "resolved") whose
-- writes were committed, each kept until its timestamp would be refused anyway: a replay of a
-- captured request within that time finds its signature here and is refused.

-- +goose Up
CREATE TABLE signed_requests (
    signature  TEXT   NOT NULL PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX signed_requests_expiry ON signed_requests (expires_at);

-- +goose Down
DROP TABLE signed_requests;
