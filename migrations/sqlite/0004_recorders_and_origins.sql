-- wirelog schema, version 4: every session names the recorder that made it, a session copied from
-- another store remembers where it came from, and the store has an identity of its own.

-- `--recorder-name` of the serve/proxy/replay that recorded it (default: the host name). Sessions
-- recorded before version 4 have ''.
ALTER TABLE sessions ADD COLUMN recorder TEXT NOT NULL DEFAULT '';
CREATE INDEX sessions_by_recorder ON sessions(recorder, started_us);

-- For a session written by `wirelog sessions copy`: '<source store identity>/<source session id>'.
-- Unique, so copying the same session again is recognised and skipped.
ALTER TABLE sessions ADD COLUMN origin TEXT;
CREATE UNIQUE INDEX sessions_by_origin ON sessions(origin) WHERE origin IS NOT NULL;

-- One row, made once: what copies from this store remember as their origin.
CREATE TABLE store_identity (
    id TEXT NOT NULL
);
INSERT INTO store_identity (id) VALUES (lower(hex(randomblob(16))));
