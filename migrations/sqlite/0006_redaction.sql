-- wirelog schema, version 6: secrets kept off the disk (docs/SCHEMA.md, "Redaction").

-- The spans of a message that redaction rules replaced by tokens, in offset order:
-- 'offset+length:rule' per span, comma-separated (offset: where the token starts in raw; length:
-- how many bytes of the original it stands for). NULL when nothing was redacted.
ALTER TABLE messages ADD COLUMN redactions TEXT;

-- One row, made once: the key of the tokens' keyed hash (HMAC-SHA256). Never shown.
CREATE TABLE redaction_key (
    key BLOB NOT NULL
);
INSERT INTO redaction_key (key) VALUES (randomblob(32));
