-- wirelog schema for PostgreSQL, version 7: the faults a session met (SQLite's version 11).

-- NULL for a session no toxic touched; otherwise the JSON array of FaultRecord (docs/SCHEMA.md):
-- at_us, toxic, type, settings, direction, what. jsonb, so it can be queried in SQL.
ALTER TABLE sessions ADD COLUMN faults jsonb;
CREATE INDEX sessions_with_faults ON sessions(started_us) WHERE faults IS NOT NULL;
