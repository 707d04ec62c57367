-- wirelog schema for PostgreSQL, version 5: protocols, not just bytes (SQLite's version 9; decoding
-- is free text here already, so only the message columns and an index are new).

-- What the protocol decoder read in a message: one flat JSON object of its fields (query it with
-- fields::jsonb ->> 'status'); why it could not; and on the message that completes an exchange, the
-- seq of the request it answers and the time from the request's first byte to the response's last.
ALTER TABLE messages ADD COLUMN fields text;
ALTER TABLE messages ADD COLUMN decode_error text;
ALTER TABLE messages ADD COLUMN exchange_seq bigint;
ALTER TABLE messages ADD COLUMN duration_us bigint;

CREATE INDEX sessions_by_decoding ON sessions(decoding, started_us);
