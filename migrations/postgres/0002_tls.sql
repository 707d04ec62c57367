-- wirelog schema for PostgreSQL, version 2: what TLS a session used (SQLite's version 5).

-- NULL for a session with no TLS on either leg; otherwise the JSON object of TLSDetails.jsonText,
-- with a "client" and a "server" leg (docs/SCHEMA.md). jsonb, so it can be queried in SQL.
ALTER TABLE sessions ADD COLUMN tls jsonb;
-- The name the session asked for: the client's SNI, else the one sent upstream.
ALTER TABLE sessions ADD COLUMN sni text;
CREATE INDEX sessions_by_sni ON sessions(sni, started_us) WHERE sni IS NOT NULL;
CREATE INDEX sessions_with_tls ON sessions(started_us) WHERE tls IS NOT NULL;
