#!/usr/bin/env python3
"""What SQLite alone sustains for the recorder's workload: the rows of 50 ping-pong connections
(a 22-byte `DATA` command and its 9-byte reply each), inserted with the recorder's statement into
a wirelog database (real schema), in commits of N rows, one thread, WAL, synchronous=NORMAL.
No network and no Swift: the ceiling for `wirelog serve` is half this rate in requests (two rows
per request), less whatever the rest of the process and the load generator take of the CPU.

Usage: sqlite_ceiling.py WIRELOG_BINARY WORK_DIR  → one JSON object per commit size."""
import json
import os
import sqlite3
import subprocess
import sys
import time

binary, work = sys.argv[1], sys.argv[2]
CONNECTIONS = 50
ROWS = 200_000
COMMAND = b"DATA 0123456789abcdef\n"
REPLY = b"300 DRCV\n"

for rows_per_commit in (12, 100):
    path = os.path.join(work, f"ceiling-{rows_per_commit}.sqlite")
    # The schema comes from wirelog itself (its migrations), with one session to copy.
    subprocess.run([binary, "bench", "populate", "--sessions", "1", "--db", path],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=NORMAL")
    first = db.execute("SELECT max(id) FROM sessions").fetchone()[0] + 1
    db.execute("BEGIN")
    db.executemany("INSERT INTO sessions (kind, decoding, client_host, client_port, server_host, server_port, started_us) "
                   "VALUES ('server', 'lab', '127.0.0.1', ?, '127.0.0.1', 7070, 0)",
                   [(port,) for port in range(CONNECTIONS)])
    db.execute("COMMIT")
    insert = ("INSERT INTO messages (session_id, seq, at_us, sender, raw, verb, payload, reply_code) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
    seq = [0] * CONNECTIONS
    started = time.perf_counter()
    cpu_started = time.process_time()
    written = 0
    while written < ROWS:
        batch = []
        for _ in range(rows_per_commit):
            connection = (written // 2) % CONNECTIONS
            seq[connection] += 1
            if written % 2 == 0:
                batch.append((first + connection, seq[connection], written, "client", COMMAND, "DATA", COMMAND[5:21], None))
            else:
                batch.append((first + connection, seq[connection], written, "server", REPLY, None, None, 300))
            written += 1
        db.execute("BEGIN IMMEDIATE")
        db.executemany(insert, batch)
        db.execute("COMMIT")
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    db.close()
    print(json.dumps({"case": "sqlite-ceiling", "rows_per_commit": rows_per_commit, "rows": written,
                      "rows_per_second": written / seconds, "rows_per_cpu_second": written / cpu}))
