-- wirelog schema, version 5: what TLS a session used.

-- NULL for a session with no TLS on either leg. Otherwise a JSON object with a "client" leg (client ↔
-- wirelog) and a "server" leg (wirelog ↔ server), each with version, cipherSuite, sni, alpn,
-- peerSubject, peerSHA256, failure and closedWith where known (docs/SCHEMA.md).
ALTER TABLE sessions ADD COLUMN tls TEXT;
-- The name the session asked for: the client's SNI, else the one sent upstream (`--sni`).
ALTER TABLE sessions ADD COLUMN sni TEXT;
CREATE INDEX sessions_by_sni ON sessions(sni, started_us) WHERE sni IS NOT NULL;
CREATE INDEX sessions_with_tls ON sessions(started_us) WHERE tls IS NOT NULL;
