#!/usr/bin/env bash
# The web viewer's benchmarks (docs/WEB.md), on SQLite; prints a Markdown section (BENCHMARKS.md
# carries the last one). Everything listens on 127.0.0.1 on free ports; every process started
# here is stopped by PID.
#   (a) /api/sessions: first page and a deep keyset page of a store of SESSIONS sessions
#   (b) the first page of messages of a session of 10,000 messages
#   (c) serve recording at CONNS connections of `wirelog bench`, with VIEWERS live viewers (SSE
#       clients of serve --web) and with none, alternating in one run
# Knobs: SESSIONS (1000000), REQUESTS (200), RUNS (3), DURATION (5s), CONNS (50), VIEWERS (100),
# DB (a store made by an earlier run, to skip populating; it must hold the 10,000-message session last).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SESSIONS=${SESSIONS:-1000000}
REQUESTS=${REQUESTS:-200}
RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-50}
VIEWERS=${VIEWERS:-100}
# shellcheck source=benchmarks/lib.sh
source "$ROOT/benchmarks/lib.sh"
prepare webbench
CLIENT="python3 $ROOT/benchmarks/web_client.py"
cleanup() {
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "$*" >&2; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }

DB_FILE=${DB:-$WORK/web.sqlite}
if [[ -z ${DB:-} ]]; then
    log "populating $SESSIONS sessions and one of 10,000 messages"
    started=$(date +%s)
    "$BIN" bench populate --db "$DB_FILE" --sessions "$SESSIONS" >"$WORK/populate.log" 2>&1
    "$BIN" bench populate --db "$DB_FILE" --sessions 1 --messages-per-session 10000 --days 0.001 --seed 7 >>"$WORK/populate.log" 2>&1
    POPULATE_S=$(( $(date +%s) - started ))
fi
read -r LONG_ID DEEP < <(python3 - "$DB_FILE" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
long_id = db.execute("SELECT max(id) FROM sessions").fetchone()[0]
count = db.execute("SELECT count(*) FROM sessions").fetchone()[0]
# A keyset position nine tenths of the way down the list (newest first).
started, sid = db.execute("SELECT started_us, id FROM sessions ORDER BY started_us DESC, id DESC LIMIT 1 OFFSET ?",
                          (count * 9 // 10,)).fetchone()
print(long_id, f"{started}:{sid}")
PY
)

WEB_PORT=$(free_port)
"$BIN" web --db "$DB_FILE" --listen "127.0.0.1:$WEB_PORT" --log-level warning >"$WORK/web.log" 2>&1 &
PIDS+=($!)
wait_port "$WEB_PORT"
latency() { $CLIENT latency "$WEB_PORT" "$1" "$REQUESTS"; }
FIRST=$(latency "/api/sessions")
DEEP_PAGE=$(latency "/api/sessions?before=$DEEP")
CLIENT_FILTER=$(latency "/api/sessions?client=10.0.10.108")
VERB_DEEP=$(latency "/api/sessions?verb=STAT&before=$DEEP")
MESSAGES=$(latency "/api/sessions/$LONG_ID/messages")
kill -TERM "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true

# (c) A recording serve with the viewer inside; viewers come and go between runs.
SERVE_PORT=$(free_port)
SERVE_WEB=$(free_port)
"$BIN" serve --listen "127.0.0.1:$SERVE_PORT" --db "$WORK/serve.sqlite" --web "127.0.0.1:$SERVE_WEB" --log-level warning >"$WORK/serve.log" 2>&1 &
SERVE_PID=$!
PIDS+=("$SERVE_PID")
wait_port "$SERVE_PORT"
wait_port "$SERVE_WEB"
rate() {  # "requests/s serve-CPU-µs-per-request" of one run
    local before after
    before=$(cpu_ticks "$SERVE_PID")
    "$BIN" bench --json --connections "$CONNS" --to "127.0.0.1:$SERVE_PORT" --duration "$DURATION" --warmup 1s \
        --request 'DATA 0123456789abcdef\n' --expect '300 DRCV\n' >"$WORK/rate.json"
    after=$(cpu_ticks "$SERVE_PID")
    rate_and_cpu "$WORK/rate.json" "$before" "$after"
}
none=(); watched=(); none_cpu=(); watched_cpu=(); seen=""
for ((run = 1; run <= RUNS; run++)); do
    log "run $run of $RUNS: no viewers, then $VIEWERS"
    read -r rps cpu < <(rate); none+=("$rps"); none_cpu+=("$cpu")
    $CLIENT viewers "$SERVE_WEB" /api/events "$VIEWERS" >"$WORK/viewers.json" &
    viewer_pid=$!
    PIDS+=("$viewer_pid")
    read -r rps cpu < <(rate); watched+=("$rps"); watched_cpu+=("$cpu")
    kill -TERM "$viewer_pid"; wait "$viewer_pid" || true
    seen="$seen $(cat "$WORK/viewers.json")"
    # The viewer polls on for 30 s after its last watcher left: let it stop before the next run without viewers.
    ((run < RUNS)) && sleep 31
done
N=$(median "${none[@]}"); W=$(median "${watched[@]}")
NC=$(median "${none_cpu[@]}"); WC=$(median "${watched_cpu[@]}")

cat <<MD
## Web viewer (benchmarks/web.sh, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(basename "$(dirname "$BIN")") build)

\`SESSIONS=$SESSIONS REQUESTS=$REQUESTS RUNS=$RUNS DURATION=$DURATION CONNS=$CONNS VIEWERS=$VIEWERS benchmarks/web.sh\`
(SQLite store from \`wirelog bench populate\`${POPULATE_S:+, populated in ${POPULATE_S} s}; $REQUESTS requests each on one
keep-alive connection from a Python client, wall time per request including the client).

| request | p50 ms | p99 ms | max ms | body bytes |
| --- | --- | --- | --- | --- |
| \`/api/sessions\` (first page, 50) | $(echo "$FIRST" | field p50_ms) | $(echo "$FIRST" | field p99_ms) | $(echo "$FIRST" | field max_ms) | $(echo "$FIRST" | field bytes) |
| \`/api/sessions?before=…\` (9/10 of the way down) | $(echo "$DEEP_PAGE" | field p50_ms) | $(echo "$DEEP_PAGE" | field p99_ms) | $(echo "$DEEP_PAGE" | field max_ms) | $(echo "$DEEP_PAGE" | field bytes) |
| \`/api/sessions?client=10.0.10.108\` | $(echo "$CLIENT_FILTER" | field p50_ms) | $(echo "$CLIENT_FILTER" | field p99_ms) | $(echo "$CLIENT_FILTER" | field max_ms) | $(echo "$CLIENT_FILTER" | field bytes) |
| \`/api/sessions?verb=STAT&before=…\` | $(echo "$VERB_DEEP" | field p50_ms) | $(echo "$VERB_DEEP" | field p99_ms) | $(echo "$VERB_DEEP" | field max_ms) | $(echo "$VERB_DEEP" | field bytes) |
| \`/api/sessions/ID/messages\` (first 200 of 10,000) | $(echo "$MESSAGES" | field p50_ms) | $(echo "$MESSAGES" | field p99_ms) | $(echo "$MESSAGES" | field max_ms) | $(echo "$MESSAGES" | field bytes) |

| serve recording, $CONNS connections, \`serve --web\` | requests/s (median of $RUNS: all runs) | serve's CPU µs per request (median: all runs) |
| --- | --- | --- |
| no viewers | $N (${none[*]}) | $NC (${none_cpu[*]}) |
| $VIEWERS viewers of \`/api/events\` | $W (${watched[*]}) | $WC (${watched_cpu[*]}) |
| change | $(python3 -c "print(f'{($W - $N) / $N * 100:+.1f}%')") | $(python3 -c "print(f'{($WC - $NC) / $NC * 100:+.1f}%')") |

Viewers' streams (each run): $seen
MD
