// What SQLite alone sustains for candidate shapes of the recorder's rows (issue 31): the rows of
// 50 ping-pong connections interleaved (a 22-byte `DATA` command and its 9-byte reply each), in
// commits of N rows, one thread, WAL, synchronous=NORMAL, prepared statements, no Swift and no
// network. Each design is reported in requests per second of wall and of CPU time, so that the
// recorder can be measured against the floor of the design it uses.
//
//   cc -O2 -o sqlite_rows sqlite_rows.c -lsqlite3 && ./sqlite_rows DIR  → one JSON object per case
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { CONNECTIONS = 50, REQUESTS = 150000 };
static const char command[] = "DATA 0123456789abcdef\n";
static const char reply[] = "300 DRCV\n";

struct design {
    const char *name;
    const char *schema;
    // Rows per request: 2 (a command and its reply) or 1 (the exchange in one row).
    int rows_per_request;
    const char *insert;
    // With a directory: rows of `block_ids` consecutive ids share one (block, session) entry.
    int block_ids;
};

// The recorder's row today (migrations 0003 and 0009): 14 columns, the sender CHECK and the
// session-block index.
#define WIDE_TABLE \
    "CREATE TABLE messages (id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL, seq INTEGER NOT NULL," \
    " at_us INTEGER NOT NULL, sender TEXT NOT NULL CHECK (sender IN ('client', 'server')), raw BLOB NOT NULL," \
    " verb TEXT, payload BLOB, reply_code INTEGER, answered_by INTEGER, redactions TEXT, fields TEXT," \
    " decode_error TEXT, exchange_seq INTEGER, duration_us INTEGER);"
#define WIDE_INSERT \
    "INSERT INTO messages (session_id, seq, at_us, sender, raw, verb, payload, reply_code, answered_by, redactions," \
    " fields, decode_error, exchange_seq, duration_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
#define BLOCK_INDEX "CREATE INDEX messages_by_session_block ON messages(session_id / 64, id, session_id);"

// Instead of an index entry per row, one entry per session per span of consecutive ids (the
// writer remembers the last span it noted per session), keyed by blocks of 64 sessions first
// like today's index, so that reading a session visits only its block's entries.
#define SPANS \
    "CREATE TABLE message_spans (session_block INTEGER, span INTEGER, session_id INTEGER," \
    " PRIMARY KEY (session_block, span, session_id)) WITHOUT ROWID;"

static const struct design designs[] = {
    {"before 0013: 14 columns + block index", WIDE_TABLE BLOCK_INDEX, 2, WIDE_INSERT},
    {"14 columns, no index", WIDE_TABLE, 2, WIDE_INSERT},
    {"today's columns, one row per exchange + block index",
     WIDE_TABLE "ALTER TABLE messages ADD COLUMN reply_raw BLOB; ALTER TABLE messages ADD COLUMN reply_at_us INTEGER;" BLOCK_INDEX,
     1,
     "INSERT INTO messages (session_id, seq, at_us, sender, raw, verb, payload, reply_code, answered_by, redactions,"
     " fields, decode_error, exchange_seq, duration_us, reply_raw, reply_at_us)"
     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
    {"14 columns + spans of 256 ids (migration 0013)", WIDE_TABLE SPANS, 2, WIDE_INSERT, 256},
    {"14 columns + spans of 1024 ids", WIDE_TABLE SPANS, 2, WIDE_INSERT, 1024},
    {"8 columns (no exchange, redaction or mock columns) + spans of 256 ids",
     "CREATE TABLE messages (id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL, seq INTEGER NOT NULL,"
     " at_us INTEGER NOT NULL, sender TEXT NOT NULL CHECK (sender IN ('client', 'server')), raw BLOB NOT NULL,"
     " verb TEXT, payload BLOB, reply_code INTEGER);" SPANS,
     2, "INSERT INTO messages (session_id, seq, at_us, sender, raw, verb, payload, reply_code) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", 256},
};

static double now(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void must(int rc, sqlite3 *db, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

// Binds one message (or, with `exchange`, a request and its reply) the way the recorder does:
// every column, NULL where it does not apply.
static void bind_row(sqlite3_stmt *insert, int session, int seq, long at, int is_reply, int exchange) {
    sqlite3_bind_int64(insert, 1, session);
    sqlite3_bind_int64(insert, 2, seq);
    sqlite3_bind_int64(insert, 3, at);
    sqlite3_bind_text(insert, 4, is_reply ? "server" : "client", -1, SQLITE_STATIC);
    const char *raw = is_reply ? reply : command;
    sqlite3_bind_blob(insert, 5, raw, (int)strlen(raw), SQLITE_STATIC);
    if (is_reply) {
        sqlite3_bind_null(insert, 6);
        sqlite3_bind_null(insert, 7);
        sqlite3_bind_int(insert, 8, 300);
    } else {
        sqlite3_bind_text(insert, 6, "DATA", 4, SQLITE_STATIC);
        sqlite3_bind_blob(insert, 7, command + 5, 16, SQLITE_STATIC);
        sqlite3_bind_null(insert, 8);
    }
    for (int column = 9; column <= sqlite3_bind_parameter_count(insert) && column <= 14; column++) sqlite3_bind_null(insert, column);
    if (exchange) {
        sqlite3_bind_int(insert, 8, 300);
        sqlite3_bind_blob(insert, 15, reply, (int)strlen(reply), SQLITE_STATIC);
        sqlite3_bind_int64(insert, 16, at + 20);
    }
}

static void run(const char *dir, const struct design *design, int rows_per_commit, int index) {
    char path[4096];
    snprintf(path, sizeof path, "%s/rows-%d-%d.sqlite", dir, index, rows_per_commit);
    remove(path);
    sqlite3 *db;
    must(sqlite3_open(path, &db), db, "open");
    must(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", 0, 0, 0), db, "pragmas");
    must(sqlite3_exec(db, design->schema, 0, 0, 0), db, "schema");
    sqlite3_stmt *insert, *begin, *commit, *note = 0;
    long noted[CONNECTIONS];
    for (int c = 0; c < CONNECTIONS; c++) noted[c] = -1;
    if (design->block_ids)
        must(sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO message_spans (session_block, span, session_id) VALUES (?, ?, ?)",
                              -1, &note, 0), db, "prepare");
    must(sqlite3_prepare_v2(db, design->insert, -1, &insert, 0), db, "prepare");
    must(sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, 0), db, "prepare");
    must(sqlite3_prepare_v2(db, "COMMIT", -1, &commit, 0), db, "prepare");

    int seq[CONNECTIONS] = {0};
    long rows = (long)REQUESTS * design->rows_per_request, written = 0;
    double wall = now(CLOCK_MONOTONIC), cpu = now(CLOCK_PROCESS_CPUTIME_ID);
    while (written < rows) {
        sqlite3_step(begin);
        sqlite3_reset(begin);
        for (int row = 0; row < rows_per_commit && written < rows; row++, written++) {
            long request = written / design->rows_per_request;
            int connection = (int)(request % CONNECTIONS);
            int is_reply = design->rows_per_request == 2 && written % 2 == 1;
            bind_row(insert, 1000 + connection, ++seq[connection], written, is_reply, design->rows_per_request == 1);
            must(sqlite3_step(insert), db, "insert");
            sqlite3_reset(insert);
            long block = design->block_ids ? sqlite3_last_insert_rowid(db) / design->block_ids : -1;
            if (design->block_ids && noted[connection] != block) {
                noted[connection] = block;
                sqlite3_bind_int64(note, 1, (1000 + connection) / 64);
                sqlite3_bind_int64(note, 2, block);
                sqlite3_bind_int64(note, 3, 1000 + connection);
                must(sqlite3_step(note), db, "note");
                sqlite3_reset(note);
            }
        }
        must(sqlite3_step(commit), db, "commit");
        sqlite3_reset(commit);
    }
    wall = now(CLOCK_MONOTONIC) - wall;
    cpu = now(CLOCK_PROCESS_CPUTIME_ID) - cpu;
    printf("{\"case\": \"sqlite-rows\", \"design\": \"%s\", \"rows_per_commit\": %d, \"requests\": %d,"
           " \"requests_per_second\": %.0f, \"requests_per_cpu_second\": %.0f}\n",
           design->name, rows_per_commit, REQUESTS, REQUESTS / wall, REQUESTS / cpu);
    fflush(stdout);
    sqlite3_finalize(insert);
    sqlite3_finalize(note);
    sqlite3_finalize(begin);
    sqlite3_finalize(commit);
    sqlite3_close(db);
    remove(path);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s WORK_DIR\n", argv[0]);
        return 2;
    }
    const int commit_sizes[] = {12, 42, 100, 400};
    for (size_t d = 0; d < sizeof designs / sizeof designs[0]; d++)
        for (size_t c = 0; c < sizeof commit_sizes / sizeof commit_sizes[0]; c++)
            run(argv[1], &designs[d], commit_sizes[c], (int)d);
    return 0;
}
