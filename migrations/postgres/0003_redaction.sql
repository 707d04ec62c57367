-- wirelog schema for PostgreSQL, version 3: secrets kept off the disk (SQLite's version 6).

-- The spans of a message that redaction rules replaced by tokens: 'offset+length:rule' per span,
-- comma-separated; NULL when nothing was redacted (docs/SCHEMA.md).
ALTER TABLE messages ADD COLUMN redactions text;

-- One row, made once: the key of the tokens' keyed hash (HMAC-SHA256), 32 bytes from the server's
-- strong random source. Never shown.
CREATE TABLE redaction_key (
    key bytea NOT NULL
);
INSERT INTO redaction_key (key) VALUES (decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'));
