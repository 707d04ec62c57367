-- wirelog schema, version 12: sessions of kind 'import' (`wirelog sessions import --format har`).

-- `kind` becomes an open set as `decoding` did in version 9: version 9's CHECK on it goes, so a new
-- kind of recorder needs no schema change. SQLite cannot drop a CHECK in place, so the sessions
-- table is rebuilt as in version 9: the two side tables are set aside first (dropping their parent
-- would delete their rows) and put back.
CREATE TEMP TABLE kept_session_verbs AS SELECT verb, session_id FROM session_verbs;
CREATE TEMP TABLE kept_session_reply_codes AS SELECT reply_code, session_id FROM session_reply_codes;
DROP TABLE session_verbs;
DROP TABLE session_reply_codes;

CREATE TABLE sessions_v12 (
    id              INTEGER PRIMARY KEY,
    -- 'server' (wirelog serve), 'proxy' (wirelog proxy), 'replay' (wirelog replay --record), 'mock' (wirelog mock),
    -- 'import' (wirelog sessions import), …: an open set, as decoding is
    kind            TEXT    NOT NULL,
    -- the protocol its bytes were cut by: 'lab', 'lines', 'raw', 'http', 'resp', 'postgres', …
    decoding        TEXT    NOT NULL,
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
    replay_of       INTEGER REFERENCES sessions_v12(id) ON DELETE SET NULL,
    recorder        TEXT    NOT NULL DEFAULT '',
    origin          TEXT,
    tls             TEXT,
    sni             TEXT
);
INSERT INTO sessions_v12 (id, kind, decoding, client_host, client_port, server_host, server_port, started_us, ended_us,
                         end_reason, bytes_from_client, bytes_from_server, message_count, replay_of, recorder, origin, tls, sni)
SELECT id, kind, decoding, client_host, client_port, server_host, server_port, started_us, ended_us,
       end_reason, bytes_from_client, bytes_from_server, message_count, replay_of, recorder, origin, tls, sni
FROM sessions ORDER BY id;
DROP TABLE sessions;
ALTER TABLE sessions_v12 RENAME TO sessions;

CREATE INDEX sessions_by_start       ON sessions(started_us);
CREATE INDEX sessions_by_client      ON sessions(client_host, client_port, started_us);
CREATE INDEX sessions_by_client_host ON sessions(client_host, started_us);
CREATE INDEX sessions_by_reason      ON sessions(end_reason, started_us);
CREATE INDEX sessions_by_kind        ON sessions(kind, started_us);
CREATE INDEX sessions_by_replay      ON sessions(replay_of) WHERE replay_of IS NOT NULL;
CREATE INDEX sessions_by_recorder    ON sessions(recorder, started_us);
CREATE UNIQUE INDEX sessions_by_origin ON sessions(origin) WHERE origin IS NOT NULL;
CREATE INDEX sessions_by_sni         ON sessions(sni, started_us) WHERE sni IS NOT NULL;
CREATE INDEX sessions_with_tls       ON sessions(started_us) WHERE tls IS NOT NULL;
-- `sessions list --decoding http`
CREATE INDEX sessions_by_decoding    ON sessions(decoding, started_us);

CREATE TABLE session_verbs (
    verb        TEXT    NOT NULL COLLATE NOCASE,
    session_id  INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    PRIMARY KEY (verb, session_id)
) WITHOUT ROWID;
CREATE INDEX session_verbs_by_session ON session_verbs(session_id);
INSERT INTO session_verbs (verb, session_id) SELECT verb, session_id FROM kept_session_verbs;

CREATE TABLE session_reply_codes (
    reply_code  INTEGER NOT NULL,
    session_id  INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    PRIMARY KEY (reply_code, session_id)
) WITHOUT ROWID;
CREATE INDEX session_reply_codes_by_session ON session_reply_codes(session_id);
INSERT INTO session_reply_codes (reply_code, session_id) SELECT reply_code, session_id FROM kept_session_reply_codes;

DROP TABLE kept_session_verbs;
DROP TABLE kept_session_reply_codes;
