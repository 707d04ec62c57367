#!/usr/bin/env bash
# Side-by-side benchmarks of wirelog against redis, haproxy and socat on this machine; writes BENCHMARKS.md.
# Everything listens on 127.0.0.1 on free ports; every process started here is stopped by PID.
# Knobs (environment): RUNS (3), DURATION (5s), WARMUP (1s), CONNS ("1 10 50 200"), SESSIONS (1000000),
# IDLE (10000), SLOW_BYTES (1 GiB), OUT (BENCHMARKS.md), CASES ("server proxy bulk memory query": a
# subset runs only those sections, for a quick look; the report says "Not run" for the others).
# `run.sh --report-only` rewrites BENCHMARKS.md from the last run's results (after editing analysis.md).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-$ROOT/BENCHMARKS.md}
if [[ ${1:-} == --report-only ]]; then
    python3 "$ROOT/benchmarks/report.py" "$ROOT/benchmarks/last-results.ndjson" "$ROOT/benchmarks/last-machine.txt" \
        "$ROOT/benchmarks/analysis.md" >"$OUT"
    exit 0
fi
RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-1s}
CONNS=${CONNS:-"1 10 50 200"}
SESSIONS=${SESSIONS:-1000000}
IDLE=${IDLE:-10000}
SLOW_BYTES=${SLOW_BYTES:-1073741824}
CASES=${CASES:-"server proxy bulk memory query"}
want() { [[ " $CASES " == *" $1 "* ]]; }
MITMDUMP=
BULK_ONE=${BULK_ONE:-536870912}
BULK_TEN=${BULK_TEN:-67108864}
TOOLS="python3 $ROOT/benchmarks/tools.py"
WORK=$(mktemp -d /tmp/wirelog-bench.XXXXXX)
RESULTS=$WORK/results.ndjson
STARTED_AT=$(date +%s)
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
CLK_TCK=$(getconf CLK_TCK)
: >"$RESULTS"

PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[%4ds] %s\n' "$(( $(date +%s) - STARTED_AT ))" "$*" >&2; }

# --- peers -------------------------------------------------------------------------------------
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null || missing+=(redis-tools)
command -v haproxy >/dev/null || missing+=(haproxy)
command -v socat >/dev/null || missing+=(socat)
command -v sqlite3 >/dev/null || missing+=(sqlite3)
command -v tcpdump >/dev/null || missing+=(tcpdump)
command -v cc >/dev/null || missing+=(gcc)
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null 2>&1 || true

if [[ -n ${WIRELOG_BIN:-} ]]; then
    BIN=$WIRELOG_BIN  # a quick check of the script with another build
else
    log "building wirelog (release)"
    swift build -c release 2>&1 | grep -E "error|warning: |Compiling wirelog|Build complete" >&2 || true
    BIN=$(swift build -c release --show-bin-path)/wirelog
fi
[[ -x $BIN ]] || { echo "no wirelog binary at $BIN" >&2; exit 1; }

# --- process helpers ---------------------------------------------------------------------------
# shellcheck source=benchmarks/lib.sh
source "$ROOT/benchmarks/lib.sh"

wait_port() {
    local i
    for ((i = 0; i < 400; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "nothing listens on port $1 after 20 s" >&2
    return 1
}

# start NAME PORT command…: runs it in the background, logs to $WORK/NAME.log, waits for PORT; sets PID.
start() {
    local name=$1 port=$2
    shift 2
    "$@" >"$WORK/$name.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    wait_port "$port" || { cat "$WORK/$name.log" >&2; exit 1; }
}

stop() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 200; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# CPU ticks of a process and its reaped children (socat forks one per connection).
cpu_ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"; }

# bench CASE VARIANT CONNECTIONS SERVER_PID wirelog-bench-args…: one measured run, appended to $RESULTS.
bench() {
    local case=$1 variant=$2 conns=$3 pid=$4 before after json
    shift 4
    before=$(cpu_ticks "$pid")
    json=$("$BIN" bench --json --connections "$conns" "$@") || true
    after=$(cpu_ticks "$pid")
    [[ -n $json ]] || json=null
    printf '{"case":"%s","variant":"%s","connections":%s,"server_cpu_seconds":%s,"result":%s}\n' \
        "$case" "$variant" "$conns" "$(awk -v a="$after" -v b="$before" -v t="$CLK_TCK" 'BEGIN{print (a-b)/t}')" \
        "$json" >>"$RESULTS"
}

record() { printf '%s\n' "$1" >>"$RESULTS"; }

redis_conf() {  # redis_conf PORT DIR extra-args…
    local port=$1 dir=$2
    shift 2
    mkdir -p "$dir"
    echo redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" --daemonize no --protected-mode no "$@"
}

DATA_REQ='DATA 0123456789abcdef\n'
DATA_OK='300 DRCV\n'
SET_REQ='SET k v\r\n'
SET_OK='+OK\r\n'
PING_REQ='PING\r\n'
PING_OK='+PONG\r\n'

# --- 1. server ---------------------------------------------------------------------------------
if want server; then
log "1. server ping-pong: wirelog serve (recording, not recording) vs redis AOF everysec"
# At info level the recorder logs its batching when it stops (three lines in all).
P_REC=$(free_port); start serve-rec "$P_REC" "$BIN" serve --listen "127.0.0.1:$P_REC" --db "$WORK/serve.sqlite" --log-level info; PID_REC=$PID
P_NOREC=$(free_port); start serve-norec "$P_NOREC" "$BIN" serve --listen "127.0.0.1:$P_NOREC" --no-record --log-level warning; PID_NOREC=$PID
P_RE=$(free_port); start redis-everysec "$P_RE" $(redis_conf "$P_RE" "$WORK/redis-everysec" --appendonly yes --appendfsync everysec); PID_RE=$PID
for conns in $CONNS; do
    for ((run = 1; run <= RUNS; run++)); do
        bench server "wirelog serve" "$conns" "$PID_REC" --to "127.0.0.1:$P_REC" --duration "$DURATION" --warmup "$WARMUP" --request "$DATA_REQ" --expect "$DATA_OK"
        bench server "wirelog serve --no-record" "$conns" "$PID_NOREC" --to "127.0.0.1:$P_NOREC" --duration "$DURATION" --warmup "$WARMUP" --request "$DATA_REQ" --expect "$DATA_OK"
        bench server "redis AOF everysec" "$conns" "$PID_RE" --to "127.0.0.1:$P_RE" --duration "$DURATION" --warmup "$WARMUP" --request "$SET_REQ" --expect "$SET_OK"
    done
done
stop "$PID_REC"; stop "$PID_NOREC"; stop "$PID_RE"
record "$(sed -n 's/.*recorder stopped: \([0-9]*\) records in \([0-9]*\) transactions.*/{"case":"recorder","records":\1,"transactions":\2}/p' "$WORK/serve-rec.log")"

# --- 5. storage (from the recording of case 1) --------------------------------------------------
sqlite3 "$WORK/serve.sqlite" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
record "$(printf '{"case":"storage","file_bytes":%s,"commands":%s,"messages":%s,"sessions":%s,"page_size":%s}' \
    "$(stat -c %s "$WORK/serve.sqlite")" \
    "$(sqlite3 "$WORK/serve.sqlite" "SELECT count(*) FROM messages WHERE sender = 'client'")" \
    "$(sqlite3 "$WORK/serve.sqlite" "SELECT count(*) FROM messages")" \
    "$(sqlite3 "$WORK/serve.sqlite" "SELECT count(*) FROM sessions")" \
    "$(sqlite3 "$WORK/serve.sqlite" "PRAGMA page_size")")"
rm -rf "$WORK"/serve.sqlite*

log "1c. SQLite alone: the recorder's rows in each row design, no network (benchmarks/sqlite_rows.c)"
cc -O2 -o "$WORK/sqlite_rows" "$ROOT/benchmarks/sqlite_rows.c" -lsqlite3
"$WORK/sqlite_rows" "$WORK" >>"$RESULTS"

log "1b. durable: wirelog --durability full vs redis appendfsync always"
P_FULL=$(free_port); start serve-full "$P_FULL" "$BIN" serve --listen "127.0.0.1:$P_FULL" --db "$WORK/full.sqlite" --durability full --log-level warning; PID_FULL=$PID
P_RA=$(free_port); start redis-always "$P_RA" $(redis_conf "$P_RA" "$WORK/redis-always" --appendonly yes --appendfsync always); PID_RA=$PID
for conns in 1 50; do
    for ((run = 1; run <= RUNS; run++)); do
        bench durable "wirelog serve --durability full" "$conns" "$PID_FULL" --to "127.0.0.1:$P_FULL" --duration "$DURATION" --warmup "$WARMUP" --request "$DATA_REQ" --expect "$DATA_OK"
        bench durable "redis AOF always" "$conns" "$PID_RA" --to "127.0.0.1:$P_RA" --duration "$DURATION" --warmup "$WARMUP" --request "$SET_REQ" --expect "$SET_OK"
    done
done
stop "$PID_FULL"; stop "$PID_RA"; rm -rf "$WORK"/full.sqlite*

fi
# --- 2. proxy ----------------------------------------------------------------------------------
# start_proxies UPSTREAM_PORT TAG: starts haproxy, socat and (if built) wirelog proxy in front of it.
start_proxies() {
    local upstream=$1 tag=$2
    PORT_HAPROXY=$(free_port); haproxy_conf "$PORT_HAPROXY" "$upstream" "$WORK/haproxy-$tag.cfg"
    start "haproxy-$tag" "$PORT_HAPROXY" haproxy -f "$WORK/haproxy-$tag.cfg" -db; PID_HAPROXY=$PID
    PORT_SOCAT=$(free_port)
    start "socat-$tag" "$PORT_SOCAT" socat "TCP-LISTEN:$PORT_SOCAT,bind=127.0.0.1,fork,reuseaddr,backlog=1024" "TCP:127.0.0.1:$upstream"; PID_SOCAT=$PID
    PORT_WL=$(free_port)
    start "proxy-$tag" "$PORT_WL" "$BIN" proxy --listen "127.0.0.1:$PORT_WL" --upstream "127.0.0.1:$upstream" --db "$WORK/proxy-$tag.sqlite" --max-connections 20000 --log-level warning; PID_WL=$PID
    # The same proxy without recording: what forwarding alone costs against haproxy.
    PORT_WLN=$(free_port)
    start "proxy-norec-$tag" "$PORT_WLN" "$BIN" proxy --listen "127.0.0.1:$PORT_WLN" --upstream "127.0.0.1:$upstream" --no-record --max-connections 20000 --log-level warning; PID_WLN=$PID
}
stop_proxies() {
    stop "$PID_HAPROXY"; stop "$PID_SOCAT"; stop "$PID_WL"; stop "$PID_WLN"
    rm -rf "$WORK"/proxy-*.sqlite*
}

# bench_captured CASE CONNECTIONS wirelog-bench-args…: a run against haproxy while `tcpdump -w` writes
# every packet of its client side to a file: what people run to record a conversation without wirelog
# (the client side is what wirelog records). tcpdump's own CPU is not in the server's column.
bench_captured() {
    local case=$1 conns=$2 i pid
    shift 2
    : >"$WORK/tcpdump.log"
    tcpdump -i lo -s 0 -w "$WORK/capture.pcap" "tcp port $PORT_HAPROXY" 2>"$WORK/tcpdump.log" &
    pid=$!
    for ((i = 0; i < 400; i++)); do
        grep -q "listening on" "$WORK/tcpdump.log" && break
        sleep 0.05
    done
    bench "$case" "haproxy + tcpdump -w" "$conns" "$PID_HAPROXY" --to "127.0.0.1:$PORT_HAPROXY" "$@"
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$WORK/capture.pcap"
}

P_REDIS=$(free_port); start redis-plain "$P_REDIS" $(redis_conf "$P_REDIS" "$WORK/redis-plain" --appendonly no --maxclients 12000); PID_REDIS=$PID
if want proxy; then
log "2. proxy ping-pong to redis PING: direct, wirelog proxy, haproxy, haproxy + tcpdump -w, socat, mitmproxy"
# mitmproxy (what people use to record, for comparison), in a virtualenv of its own kept across runs;
# MITMDUMP is empty when it cannot be installed.
MITM_VENV=${MITM_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/wirelog-bench/mitmproxy}
if [[ ! -x $MITM_VENV/bin/mitmdump ]]; then
    log "installing mitmproxy into $MITM_VENV"
    { python3 -m venv "$MITM_VENV" && "$MITM_VENV/bin/pip" install -q mitmproxy; } >"$WORK/mitmproxy-install.log" 2>&1 ||
        log "mitmproxy could not be installed (see $WORK/mitmproxy-install.log): its row is left out"
fi
MITMDUMP=
[[ -x $MITM_VENV/bin/mitmdump ]] && MITMDUMP=$MITM_VENV/bin/mitmdump
start_proxies "$P_REDIS" ping
if [[ -n $MITMDUMP ]]; then
    PORT_MITM=$(free_port)
    start mitmdump "$PORT_MITM" "$MITMDUMP" --mode "reverse:tcp://127.0.0.1:$P_REDIS" --listen-host 127.0.0.1 \
        --listen-port "$PORT_MITM" -w "$WORK/mitmproxy.flows" -q; PID_MITM=$PID
fi
for conns in $CONNS; do
    for ((run = 1; run <= RUNS; run++)); do
        bench proxy "direct" "$conns" "$PID_REDIS" --to "127.0.0.1:$P_REDIS" --duration "$DURATION" --warmup "$WARMUP" --request "$PING_REQ" --expect "$PING_OK"
        bench proxy "wirelog proxy" "$conns" "$PID_WL" --to "127.0.0.1:$PORT_WL" --duration "$DURATION" --warmup "$WARMUP" --request "$PING_REQ" --expect "$PING_OK"
        bench proxy "wirelog proxy --no-record" "$conns" "$PID_WLN" --to "127.0.0.1:$PORT_WLN" --duration "$DURATION" --warmup "$WARMUP" --request "$PING_REQ" --expect "$PING_OK"
        bench proxy "haproxy" "$conns" "$PID_HAPROXY" --to "127.0.0.1:$PORT_HAPROXY" --duration "$DURATION" --warmup "$WARMUP" --request "$PING_REQ" --expect "$PING_OK"
        bench_captured proxy "$conns" --duration "$DURATION" --warmup "$WARMUP" --request "$PING_REQ" --expect "$PING_OK"
        bench proxy "socat" "$conns" "$PID_SOCAT" --to "127.0.0.1:$PORT_SOCAT" --duration "$DURATION" --warmup "$WARMUP" --request "$PING_REQ" --expect "$PING_OK"
        [[ -z $MITMDUMP ]] || bench proxy "mitmproxy (mitmdump -w)" "$conns" "$PID_MITM" --to "127.0.0.1:$PORT_MITM" --duration "$DURATION" --warmup "$WARMUP" --request "$PING_REQ" --expect "$PING_OK"
    done
done
stop_proxies
[[ -z $MITMDUMP ]] || { stop "$PID_MITM"; rm -f "$WORK/mitmproxy.flows"; }
fi

if want bulk; then
# socat's own PIPE echo stalls under bulk load (it blocks writing the pipe it should be reading), so the
# echo server is wirelog's NIO one.
log "2b. proxy bulk through an echo server (wirelog bench echo)"
P_ECHO=$(free_port); start echo "$P_ECHO" "$BIN" bench echo --listen "127.0.0.1:$P_ECHO"; PID_ECHO=$PID
start_proxies "$P_ECHO" bulk
# The recording proxy's WAL, sampled every 50 ms for the whole case: how far the checkpoints keep it down.
( peak=0; while sleep 0.05; do
      size=$(stat -c %s "$WORK/proxy-bulk.sqlite-wal" 2>/dev/null || echo 0)
      ((size > peak)) && peak=$size && echo "$peak" >"$WORK/wal-peak"
  done ) &
PID_WAL_SAMPLER=$!
for conns in 1 10; do
    bytes=$BULK_ONE; ((conns == 1)) || bytes=$BULK_TEN
    for ((run = 1; run <= RUNS; run++)); do
        bench bulk "direct" "$conns" "$PID_ECHO" --to "127.0.0.1:$P_ECHO" --bulk "$bytes"
        bench bulk "wirelog proxy" "$conns" "$PID_WL" --to "127.0.0.1:$PORT_WL" --bulk "$bytes"
        bench bulk "wirelog proxy --no-record" "$conns" "$PID_WLN" --to "127.0.0.1:$PORT_WLN" --bulk "$bytes"
        bench bulk "haproxy" "$conns" "$PID_HAPROXY" --to "127.0.0.1:$PORT_HAPROXY" --bulk "$bytes"
        bench_captured bulk "$conns" --bulk "$bytes"
        bench bulk "socat" "$conns" "$PID_SOCAT" --to "127.0.0.1:$PORT_SOCAT" --bulk "$bytes"
    done
done
kill "$PID_WAL_SAMPLER"; wait "$PID_WAL_SAMPLER" 2>/dev/null || true
stop "$PID_WL"  # its recorder commits and seals its segment: the figures below are final
record "$(printf '{"case":"bulk_storage","wal_peak_bytes":%s,"messages":%s,"large_messages":%s,"recorded_bytes":%s,"database_bytes":%s,"segment_bytes":%s}' \
    "$(cat "$WORK/wal-peak" 2>/dev/null || echo 0)" \
    "$(sqlite3 "$WORK/proxy-bulk.sqlite" "SELECT count(*) FROM messages")" \
    "$(sqlite3 "$WORK/proxy-bulk.sqlite" "SELECT count(*) FROM message_segments")" \
    "$(sqlite3 "$WORK/proxy-bulk.sqlite" "SELECT sum(bytes_from_client + bytes_from_server) FROM sessions")" \
    "$(stat -c %s "$WORK/proxy-bulk.sqlite")" \
    "$(du -sb "$WORK/proxy-bulk.sqlite-segments" 2>/dev/null | cut -f1 || echo 0)")"
stop_proxies; stop "$PID_ECHO"

fi
# --- 4. memory ---------------------------------------------------------------------------------
if want memory; then
# Each process may hold at most `ulimit -n` descriptors; a proxy needs two per connection.
ulimit -n "$(ulimit -Hn)"
FDS=$(ulimit -n)
log "4. memory: $IDLE idle connections (descriptor limit $FDS)"
P_IDLE=$(free_port); start serve-idle "$P_IDLE" "$BIN" serve --listen "127.0.0.1:$P_IDLE" --db "$WORK/idle.sqlite" --max-connections $((IDLE + 100)) --log-level warning; PID_IDLE=$PID
record "{\"case\":\"idle\",\"variant\":\"wirelog serve\",\"result\":$($TOOLS idle "$P_IDLE" "$IDLE" "$PID_IDLE")}"
stop "$PID_IDLE"
PROXY_IDLE=$IDLE
((2 * PROXY_IDLE + 300 <= FDS)) || PROXY_IDLE=$(((FDS - 300) / 2))
start_proxies "$P_REDIS" idle
record "{\"case\":\"idle\",\"variant\":\"wirelog proxy\",\"result\":$($TOOLS idle "$PORT_WL" "$PROXY_IDLE" "$PID_WL")}"
record "{\"case\":\"idle\",\"variant\":\"haproxy\",\"result\":$($TOOLS idle "$PORT_HAPROXY" "$PROXY_IDLE" "$PID_HAPROXY")}"
stop_proxies

log "4b. memory: $SLOW_BYTES bytes through wirelog proxy to a slow reader"
P_SRC=$(free_port)
$TOOLS source "$P_SRC" "$SLOW_BYTES" >"$WORK/source.log" 2>&1 &
PID_SRC=$!; PIDS+=("$PID_SRC")
wait_port "$P_SRC"
P_SLOW=$(free_port)
start proxy-slow "$P_SLOW" "$BIN" proxy --listen "127.0.0.1:$P_SLOW" --upstream "127.0.0.1:$P_SRC" --db "$WORK/slow.sqlite" --log-level warning; PID_SLOW=$PID
record "{\"case\":\"slow-reader\",\"variant\":\"wirelog proxy\",\"result\":$($TOOLS slow-reader "$P_SLOW" "$SLOW_BYTES" "$PID_SLOW" 100)}"
stop "$PID_SLOW"; stop "$PID_SRC"; rm -rf "$WORK"/slow.sqlite*

fi
stop "$PID_REDIS"
# --- 3. query ----------------------------------------------------------------------------------
if want query; then
log "3. query: populate $SESSIONS sessions"
QDB=$WORK/query.sqlite
t0=$(date +%s%N)
"$BIN" bench populate --db "$QDB" --sessions "$SESSIONS" >"$WORK/populate.log" 2>&1
t1=$(date +%s%N)
record "$(printf '{"case":"populate","sessions":%s,"seconds":%s,"file_bytes":%s}' "$SESSIONS" \
    "$(awk -v a="$t1" -v b="$t0" 'BEGIN{print (a-b)/1e9}')" "$(stat -c %s "$QDB")")"
# One long session for `show`, as in the query issue.
"$BIN" bench populate --db "$QDB" --sessions 1 --messages-per-session 10000 --days 0.001 --seed 7 >>"$WORK/populate.log" 2>&1
LONG_ID=$((SESSIONS + 1))
# query LABEL ARGS…: RUNS timed runs (wall, and CPU of the process) after one untimed run.
query() {
    local label=$1 walls=() cpus=() run wall user sys
    shift
    log "   $label"
    # A search that finds nothing exits 1, as grep does: that is an answer, not a failure.
    local status=0 answered=0
    [[ $1 == sessions && $2 == search ]] && answered=1
    "$BIN" "$@" --db "$QDB" >/dev/null 2>"$WORK/query.err" || status=$?
    if ((status > answered)); then
        record "{\"case\":\"query\",\"command\":\"$label\",\"failed\":true}"
        return
    fi
    for ((run = 1; run <= RUNS; run++)); do
        /usr/bin/time -f "%e %U %S" -o "$WORK/time.txt" "$BIN" "$@" --db "$QDB" >/dev/null || true
        # time puts "Command exited with non-zero status 1" first for such a search.
        read -r wall user sys < <(tail -1 "$WORK/time.txt")
        walls+=("$wall")
        cpus+=("$(awk -v u="$user" -v s="$sys" 'BEGIN{print u + s}')")
    done
    record "{\"case\":\"query\",\"command\":\"$label\",\"seconds\":[$(IFS=,; echo "${walls[*]}")],\"cpu_seconds\":[$(IFS=,; echo "${cpus[*]}")]}"
}
query "sessions list" sessions list
query "sessions list --client 10.0.10.108" sessions list --client 10.0.10.108
query "sessions list --verb STAT" sessions list --verb STAT
query "sessions show (10,000 messages)" sessions show "$LONG_ID"
query "sessions stats --since 1d" sessions stats --since 1d
query "sessions search charlie" sessions search charlie
query "sessions search 'no such bytes' (reads every message)" sessions search "no such bytes"
query "sessions search 'no such bytes' --since 1d" sessions search "no such bytes" --since 1d

fi
# --- machine and report ------------------------------------------------------------------------
{
    echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores"
    echo "memory: $(free -g | awk '/^Mem:/ {print $2}') GiB"
    echo "kernel: $(uname -r)"
    # What recording big transfers is bounded by: every recorded byte reaches the disk once (its segment file).
    echo "disk: $(dd if=/dev/zero of="$WORK/dd.bin" bs=1M count=512 conv=fdatasync 2>&1 | sed -n 's/.*, \([0-9.]* [MG]B\/s\)$/\1/p') sequential write with fdatasync (dd, 512 MiB, in $WORK)"
    rm -f "$WORK/dd.bin"
    echo "swift: $(swift --version 2>&1 | head -1)"
    echo "sqlite: $(sqlite3 --version | cut -d' ' -f1)"
    echo "redis: $(redis-server --version | cut -d' ' -f3)"
    echo "haproxy: $(haproxy -v | head -1 | cut -d' ' -f3)"
    echo "tcpdump: $(tcpdump --version 2>&1 | head -1 | cut -d' ' -f3)"
    [[ -z $MITMDUMP ]] || echo "mitmproxy: $("$MITMDUMP" --version 2>/dev/null | sed -n 's/^Mitmproxy: *//p')"
    echo "socat: $(socat -V | sed -n 's/^socat version \([^ ]*\).*/\1/p')"
    echo "wirelog: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet || echo ' (modified)')"
    echo "run: $(date -u '+%Y-%m-%d %H:%M UTC'), RUNS=$RUNS DURATION=$DURATION WARMUP=$WARMUP, $(( $(date +%s) - STARTED_AT )) s"
    # Anything else running shares the 2 cores: compare within a case, not across runs.
    echo "load average at start / end of the run: $LOAD_AT_START / $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$WORK/machine.txt"
python3 "$ROOT/benchmarks/report.py" "$RESULTS" "$WORK/machine.txt" "$ROOT/benchmarks/analysis.md" >"$OUT"
cp "$RESULTS" "$ROOT/benchmarks/last-results.ndjson"
cp "$WORK/machine.txt" "$ROOT/benchmarks/last-machine.txt"
log "wrote $OUT"
