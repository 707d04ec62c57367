#!/usr/bin/env bash
# The PostgreSQL backend side by side with the SQLite backend and redis, in one run on this machine:
# serve recording at 50 connections (SQLite, PostgreSQL, redis AOF everysec), 1/2/4 recorders into one
# PostgreSQL, and the query commands on a populated PostgreSQL store. Prints a Markdown section
# (BENCHMARKS.md carries the last one). A throwaway PostgreSQL cluster (scripts/pg-test-cluster) on a
# free loopback port, stopped at the end. Knobs: RUNS (3), DURATION (5s), CONNS (50), PG_SESSIONS (1000000;
# 0 skips the queries), PG_QUERY_DB (a postgres:// URL already populated as below, to time the queries
# without populating again).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-50}
PG_SESSIONS=${PG_SESSIONS:-1000000}
# shellcheck source=benchmarks/lib.sh
source "$ROOT/benchmarks/lib.sh"
prepare pgbench
# A server that syncs its WAL, as a real one does (the test cluster runs fsync=off).
eval "$(WIRELOG_PG_FSYNC=on "$ROOT/scripts/pg-test-cluster" start)"
cleanup() {
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    "$ROOT/scripts/pg-test-cluster" stop "$WIRELOG_TEST_POSTGRES_DIR" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
BASE=$WIRELOG_TEST_POSTGRES_URL
fresh_db() {  # fresh_db NAME: a new database, its URL on stdout
    psql -X -q "$BASE" -c "CREATE DATABASE $1" >/dev/null
    echo "${BASE%/*}/$1"
}
serve() {  # serve NAME DB [OPTION…]: a recording serve; its port in PORT
    PORT=$(free_port)
    "$BIN" serve --listen "127.0.0.1:$PORT" --db "$2" --recorder-name "$1" --log-level warning "${@:3}" >"$WORK/$1.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return; sleep 0.05; done
    cat "$WORK/$1.log" >&2; exit 1
}
rate() {  # rate PORT CONNS REQUEST EXPECT: requests/s of one wirelog bench run
    "$BIN" bench --json --connections "$2" --to "127.0.0.1:$1" --duration "$DURATION" --warmup 1s \
        --request "$3" --expect "$4" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["requests_per_second"]))'
}
DATA='DATA 0123456789abcdef\n'

echo "## PostgreSQL backend (benchmarks/postgres.sh, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, RUNS=$RUNS, DURATION=$DURATION)"
echo
serve sqlite "$WORK/serve.sqlite"; P_SQLITE=$PORT
serve postgres "$(fresh_db serve_one)"; P_PG=$PORT
serve postgres-full "$(fresh_db serve_full)" --durability full; P_PG_FULL=$PORT
P_REDIS=$(free_port)
redis-server --port "$P_REDIS" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync everysec --dir "$WORK" >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
sleep 0.5
sqlite=(); pg=(); pgfull=(); redis=()
for ((run = 1; run <= RUNS; run++)); do  # alternating, same sitting
    sqlite+=("$(rate "$P_SQLITE" "$CONNS" "$DATA" '300 DRCV\n')")
    pg+=("$(rate "$P_PG" "$CONNS" "$DATA" '300 DRCV\n')")
    pgfull+=("$(rate "$P_PG_FULL" "$CONNS" "$DATA" '300 DRCV\n')")
    redis+=("$(rate "$P_REDIS" "$CONNS" 'SET k v\r\n' '+OK\r\n')")
done
S=$(median "${sqlite[@]}"); P=$(median "${pg[@]}"); PF=$(median "${pgfull[@]}"); R=$(median "${redis[@]}")
echo "| serve recording, $CONNS connections | requests/s (median of $RUNS: all runs) | vs SQLite | vs redis |"
echo "| --- | --- | --- | --- |"
echo "| SQLite file | $S (${sqlite[*]}) | 1.00× | $(ratio "$S" "$R")× |"
echo "| PostgreSQL | $P (${pg[*]}) | $(ratio "$P" "$S")× | $(ratio "$P" "$R")× |"
echo "| PostgreSQL, --durability full | $PF (${pgfull[*]}) | $(ratio "$PF" "$S")× | $(ratio "$PF" "$R")× |"
echo "| redis AOF everysec (SET) | $R (${redis[*]}) | | 1.00× |"
echo

echo "| recorders into one PostgreSQL | total requests/s ($CONNS connections split among them) |"
echo "| --- | --- |"
for n in 1 2 4; do
    db=$(fresh_db "fleet_$n"); ports=()
    for ((i = 1; i <= n; i++)); do serve "r$n-$i" "$db"; ports+=("$PORT"); done
    total=0
    for port in "${ports[@]}"; do rate "$port" $((CONNS / n)) "$DATA" '300 DRCV\n' >"$WORK/rate-$port" & done
    wait $(jobs -p | tail -n "$n") 2>/dev/null || true
    for port in "${ports[@]}"; do total=$((total + $(cat "$WORK/rate-$port"))); done
    echo "| $n | $total |"
done
echo

if [[ -z ${PG_QUERY_DB:-} && $PG_SESSIONS == 0 ]]; then
    exit 0
elif [[ -n ${PG_QUERY_DB:-} ]]; then
    QDB=$PG_QUERY_DB
    populated="populated earlier"
else
    QDB=$(fresh_db query)
    t0=$(date +%s)
    "$BIN" bench populate --db "$QDB" --sessions "$PG_SESSIONS" >/dev/null
    "$BIN" bench populate --db "$QDB" --sessions 1 --messages-per-session 10000 --days 0.001 --seed 7 >/dev/null
    populated="populated in $(($(date +%s) - t0)) s"
fi
LONG=$(psql -X -At "$QDB" -c "SELECT max(id) FROM sessions")
psql -X -q "$QDB" -c "ANALYZE" >/dev/null
echo "| query on $(psql -X -At "$QDB" -c "SELECT count(*) FROM sessions") sessions in PostgreSQL ($populated) | seconds (median of $RUNS) |"
echo "| --- | --- |"
q() {
    local label=$1 times=()
    shift
    for ((run = 1; run <= RUNS; run++)); do
        # `search` exits 1 when nothing matches, as grep does.
        /usr/bin/time -f %e -o "$WORK/t" "$BIN" "$@" --db "$QDB" >/dev/null || true
        times+=("$(cat "$WORK/t")")
    done
    echo "| $label | $(median "${times[@]}") |"
}
q "sessions list" sessions list
q "sessions list --verb STAT" sessions list --verb STAT
q "sessions show (10,000 messages)" sessions show "$LONG"
q "sessions search (no match)" sessions search no-such-bytes-anywhere
q "sessions stats --since 1d" sessions stats --since 1d
