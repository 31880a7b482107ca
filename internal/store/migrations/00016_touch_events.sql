-- Touch-point events (Store.PutEvents, docs/touchpoints.md): each event as it was received,
-- once per namespace, source and id, so that a delivery repeated by a producer or a pipeline
-- is stored once. The data's fields (the person and the touch point's attributes) are kept as
-- a JSON object until the event expires (Store.Expire) or the person is erased (Store.Erase).

-- +goose Up
CREATE TABLE touch_events (
    namespace   TEXT   NOT NULL,
    source      TEXT   NOT NULL,
    event_id    TEXT   NOT NULL,
    type        TEXT   NOT NULL,
    subject     TEXT   NOT NULL,
    event_time  BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    fields      TEXT   NOT NULL,
    PRIMARY KEY (namespace, source, event_id)
);
CREATE INDEX touch_events_received ON touch_events (received_at);

-- +goose Down
DROP INDEX touch_events_received;
DROP TABLE touch_events;
