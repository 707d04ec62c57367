-- wirelog schema, version 14: the faults a session met (docs/FAULTS.md).

-- NULL for a session no toxic touched. Otherwise a JSON array, in order, of what each toxic did:
-- {"at_us", "toxic" (its name), "type", "settings" (type:attribute=value,…,stream=…), "direction"
-- (upstream: client → server; downstream: server → client), "what"} (docs/SCHEMA.md).
ALTER TABLE sessions ADD COLUMN faults TEXT;
CREATE INDEX sessions_with_faults ON sessions(started_us) WHERE faults IS NOT NULL;
