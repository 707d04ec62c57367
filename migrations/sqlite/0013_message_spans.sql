-- Issue 31: a session's messages are found through spans instead of an index entry per message.
--
-- `messages_by_session_block` (migration 0003) cost an index entry per row: ~40 % of what SQLite
-- spends on a recorded message (benchmarks/sqlite_rows.c). Here the recorder notes once per
-- session per span of 256 consecutive message ids that the session has messages in that span;
-- reading a session's messages reads each of its spans as a range of ids. With 50 connections
-- recorded together a session has ~5 messages in a span, so there are ~5× fewer entries than
-- rows, and reading a session visits at most the 256 rows of each of its spans.
--
-- The key leads with the session's block of 64 sessions, as the old index did, so that sessions
-- recorded together share an insertion point (a commit writes a few pages, not one per
-- connection) and reading one session visits only its block's entries.
CREATE TABLE message_spans (
    session_block INTEGER NOT NULL,  -- session_id / 64
    span          INTEGER NOT NULL,  -- messages.id / 256
    session_id    INTEGER NOT NULL,
    PRIMARY KEY (session_block, span, session_id)
) WITHOUT ROWID;

INSERT INTO message_spans (session_block, span, session_id)
SELECT DISTINCT session_id / 64, id / 256, session_id FROM messages;

DROP INDEX messages_by_session_block;
