-- wirelog schema, version 3: messages are found through blocks of 64 consecutive sessions.
--
-- An index keyed by (session_id, seq) has one insertion point per session, so a commit holding
-- one command from each of N connections wrote N index pages to the WAL: recording throughput
-- fell as connections grew. Keyed by (session_id / 64, id) instead, sessions that are recorded at
-- the same time (they have neighbouring ids) share an insertion point, and a commit writes a few
-- pages whatever the number of connections. A session's messages are read as
-- `session_id / 64 = ?1 / 64 AND session_id = ?1 ORDER BY id` (the index carries session_id, so the
-- other sessions of the block are skipped without reading their rows); id order is wire order.
--
-- Without an index led by session_id, messages cannot keep a foreign key to sessions (SQLite
-- checks a deleted parent's children through such an index): the recorder is the only writer
-- of both, and `sessions prune` deletes a session's messages with it. UNIQUE (session_id, seq)
-- goes for the same reason; the recorder numbers each session's messages itself.

CREATE TABLE messages_v3 (
    id          INTEGER PRIMARY KEY,
    session_id  INTEGER NOT NULL,
    -- 1, 2, 3… in wire order within the session, both directions together
    seq         INTEGER NOT NULL,
    at_us       INTEGER NOT NULL,
    sender      TEXT    NOT NULL CHECK (sender IN ('client', 'server')),
    -- exactly the bytes that crossed the wire; a direction's raw values concatenate to its whole stream
    raw         BLOB    NOT NULL,
    -- decoded fields, NULL where they do not apply
    verb        TEXT,
    payload     BLOB,
    reply_code  INTEGER
);

INSERT INTO messages_v3 (id, session_id, seq, at_us, sender, raw, verb, payload, reply_code)
SELECT id, session_id, seq, at_us, sender, raw, verb, payload, reply_code FROM messages ORDER BY id;

DROP TABLE messages;
ALTER TABLE messages_v3 RENAME TO messages;

CREATE INDEX messages_by_session_block ON messages(session_id / 64, id, session_id);

-- The verb and reply-code triggers of version 1 went with the old table and are not recreated:
-- run for every message, they were a large share of the recorder's time per message. The one code path
-- that writes messages (`MessageInsert`) now writes session_verbs and session_reply_codes the
-- first time a session uses a value.
