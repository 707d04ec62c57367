-- wirelog schema for PostgreSQL, version 1: the tables of the SQLite schema (at its version 4) for
-- a store that many recorders share. Times are microseconds since the Unix epoch (UTC); recorded
-- bytes are bytea. See docs/SCHEMA.md. Statements are run one at a time: each ends with ';' at the
-- end of a line.

CREATE TABLE sessions (
    -- from one sequence: unique across every recorder writing to this database
    id                bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- 'server', 'proxy' or 'replay'; 'lab', 'lines' or 'raw' (checked by the recorders, as text so
    -- a newer wirelog can add values without a rewrite)
    kind              text    NOT NULL,
    decoding          text    NOT NULL,
    -- --recorder-name of the serve/proxy/replay that recorded it
    recorder          text    NOT NULL,
    client_host       text    NOT NULL,
    client_port       integer NOT NULL,
    server_host       text    NOT NULL,
    server_port       integer NOT NULL,
    started_us        bigint  NOT NULL,
    ended_us          bigint,
    -- NULL while the session is open
    end_reason        text,
    bytes_from_client bigint  NOT NULL DEFAULT 0,
    bytes_from_server bigint  NOT NULL DEFAULT 0,
    message_count     bigint  NOT NULL DEFAULT 0,
    -- the recorded session a replay session replays
    replay_of         bigint  REFERENCES sessions(id) ON DELETE SET NULL,
    -- for a session written by `sessions copy`: '<source store identity>/<source session id>'
    origin            text    UNIQUE
);

CREATE INDEX sessions_by_start       ON sessions(started_us, id);
CREATE INDEX sessions_by_client      ON sessions(client_host, client_port, started_us);
CREATE INDEX sessions_by_client_host ON sessions(client_host, started_us);
CREATE INDEX sessions_by_reason      ON sessions(end_reason, started_us);
CREATE INDEX sessions_by_kind        ON sessions(kind, started_us);
CREATE INDEX sessions_by_recorder    ON sessions(recorder, started_us);
CREATE INDEX sessions_by_replay      ON sessions(replay_of) WHERE replay_of IS NOT NULL;
-- what a recorder closes when it starts after a crash: its own sessions still open
CREATE INDEX sessions_open           ON sessions(recorder) WHERE ended_us IS NULL;

-- No foreign key to sessions: the recorders are the only writers, and prune and delete remove a
-- session's messages with it (as in the SQLite schema). Each recorder numbers its sessions' seq.
CREATE TABLE messages (
    id          bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id  bigint  NOT NULL,
    -- 1, 2, 3… in wire order within the session, both directions together
    seq         bigint  NOT NULL,
    at_us       bigint  NOT NULL,
    sender      text    NOT NULL CHECK (sender IN ('client', 'server')),
    -- exactly the bytes that crossed the wire
    raw         bytea   NOT NULL,
    -- decoded fields, NULL where they do not apply
    verb        text,
    payload     bytea,
    reply_code  integer
);

-- A session's messages in wire order (id order within a session is wire order).
CREATE INDEX messages_by_session ON messages(session_id, id);

-- Which verbs (upper case) and reply codes occur in which sessions, written by the recorders the
-- first time a session uses a value: filtering sessions by verb or code reads these small tables.
CREATE TABLE session_verbs (
    verb        text    NOT NULL,
    session_id  bigint  NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    PRIMARY KEY (verb, session_id)
);
CREATE INDEX session_verbs_by_session ON session_verbs(session_id);

CREATE TABLE session_reply_codes (
    reply_code  integer NOT NULL,
    session_id  bigint  NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    PRIMARY KEY (reply_code, session_id)
);
CREATE INDEX session_reply_codes_by_session ON session_reply_codes(session_id);

-- One row, made once: what copies from this store remember as their origin.
CREATE TABLE store_identity (
    id text NOT NULL
);
INSERT INTO store_identity (id) VALUES (md5(random()::text || clock_timestamp()::text));
