-- wirelog schema, version 1: sessions and the messages inside them.
-- Times are microseconds since the Unix epoch (UTC). See docs/SCHEMA.md.

CREATE TABLE sessions (
    id              INTEGER PRIMARY KEY,
    -- 'server' (recorded by wirelog serve), 'proxy' (wirelog proxy) or 'replay' (wirelog replay --record)
    kind            TEXT    NOT NULL CHECK (kind IN ('server', 'proxy', 'replay')),
    -- how client and server bytes were split into messages: 'lab', 'lines' or 'raw'
    decoding        TEXT    NOT NULL CHECK (decoding IN ('lab', 'lines', 'raw')),
    client_host     TEXT    NOT NULL,
    client_port     INTEGER NOT NULL,
    server_host     TEXT    NOT NULL,
    server_port     INTEGER NOT NULL,
    started_us      INTEGER NOT NULL,
    ended_us        INTEGER,
    -- NULL while the session is open; see docs/SCHEMA.md for the values
    end_reason      TEXT,
    bytes_from_client INTEGER NOT NULL DEFAULT 0,
    bytes_from_server INTEGER NOT NULL DEFAULT 0,
    message_count   INTEGER NOT NULL DEFAULT 0,
    -- the recorded session a replay session replays
    replay_of       INTEGER REFERENCES sessions(id) ON DELETE SET NULL
);

CREATE INDEX sessions_by_start  ON sessions(started_us);
CREATE INDEX sessions_by_client ON sessions(client_host, client_port, started_us);
CREATE INDEX sessions_by_reason ON sessions(end_reason, started_us);
CREATE INDEX sessions_by_kind   ON sessions(kind, started_us);
CREATE INDEX sessions_by_replay ON sessions(replay_of) WHERE replay_of IS NOT NULL;

CREATE TABLE messages (
    id          INTEGER PRIMARY KEY,
    session_id  INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    -- 1, 2, 3… in wire order within the session, both directions together
    seq         INTEGER NOT NULL,
    at_us       INTEGER NOT NULL,
    sender      TEXT    NOT NULL CHECK (sender IN ('client', 'server')),
    -- exactly the bytes that crossed the wire; a direction's raw values concatenate to its whole stream
    raw         BLOB    NOT NULL,
    -- decoded fields, NULL where they do not apply
    verb        TEXT,
    payload     BLOB,
    reply_code  INTEGER,
    UNIQUE (session_id, seq)
);

-- Which verbs and reply codes occur in which sessions, one row per session and value, kept by
-- the triggers below. Filtering sessions by verb or code reads these small tables; indexing
-- every message by verb instead would dirty a page per active session on every commit (see
-- docs/SCHEMA.md), while the trigger only reads unless a session uses a value for the first time.
CREATE TABLE session_verbs (
    verb        TEXT    NOT NULL COLLATE NOCASE,
    session_id  INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    PRIMARY KEY (verb, session_id)
) WITHOUT ROWID;
CREATE INDEX session_verbs_by_session ON session_verbs(session_id);

CREATE TABLE session_reply_codes (
    reply_code  INTEGER NOT NULL,
    session_id  INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    PRIMARY KEY (reply_code, session_id)
) WITHOUT ROWID;
CREATE INDEX session_reply_codes_by_session ON session_reply_codes(session_id);

CREATE TRIGGER messages_note_verb AFTER INSERT ON messages WHEN NEW.verb IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO session_verbs (verb, session_id) VALUES (NEW.verb, NEW.session_id);
END;

CREATE TRIGGER messages_note_reply_code AFTER INSERT ON messages WHEN NEW.reply_code IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO session_reply_codes (reply_code, session_id) VALUES (NEW.reply_code, NEW.session_id);
END;
