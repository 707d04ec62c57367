-- wirelog schema for PostgreSQL, version 4: which recorded message each message of a `wirelog mock`
-- session stands for (SQLite's version 7; kind is free text here, so 'mock' needs no change).

-- The id of the recorded request a client message matched, or of the recorded reply a server
-- message repeats; NULL outside mock sessions. Not a foreign key: pruning the recording must not
-- touch the mock's sessions.
ALTER TABLE messages ADD COLUMN answered_by bigint;
