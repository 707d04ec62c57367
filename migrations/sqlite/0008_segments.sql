-- wirelog schema, version 8: the bytes of large messages live in segment files beside the
-- database (docs/SCHEMA.md, "Segment files"). SQLite writes a BLOB twice (into the WAL, then into
-- the database at the checkpoint) through a chain of overflow pages; a bulk stream recorded that
-- way ran at a sixth of the rate of appending the same bytes to a file.

-- Each file `<database>-segments/<id>` is appended to by one recorder; sealed once it is full or
-- its recorder stopped, after which it is removed when no message is left in it.
CREATE TABLE segments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created_us  INTEGER NOT NULL,
    sealed      INTEGER NOT NULL DEFAULT 0
);

-- Where the bytes of a message whose `raw` is empty are: `byte_count` bytes at `segment_offset`
-- of segment file `segment`. A side table, so that the rows of small messages stay as they were.
CREATE TABLE message_segments (
    message_id      INTEGER PRIMARY KEY,
    segment         INTEGER NOT NULL,
    segment_offset  INTEGER NOT NULL,
    byte_count      INTEGER NOT NULL
);
CREATE INDEX message_segments_by_segment ON message_segments(segment);
