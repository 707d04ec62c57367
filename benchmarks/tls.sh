#!/usr/bin/env bash
# The TLS-terminating proxy side by side with haproxy (`bind … ssl crt`), in one run on this machine:
# ping-pong to redis at 50 connections, bulk through an echo server on one connection, and new TLS
# connections per second (full handshakes, `openssl s_time -new`). wirelog with and without
# recording. Prints a Markdown section (BENCHMARKS.md carries the last one) and, with PROFILE=1, where
# the recording proxy spends its time in the ping-pong case (perf). Everything on 127.0.0.1.
# Knobs: RUNS (3), DURATION (5s), CONNS (50), BULK (268435456 bytes), HANDSHAKE_SECONDS (5).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-50}
BULK=${BULK:-268435456}
HANDSHAKE_SECONDS=${HANDSHAKE_SECONDS:-5}
# shellcheck source=benchmarks/lib.sh
source "$ROOT/benchmarks/lib.sh"
prepare tlsbench
for tool in haproxy redis-server openssl; do
    command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install haproxy redis-server openssl)" >&2; exit 1; }
done
trap stop_started EXIT
declare -A PID_AT
start() {  # start PORT COMMAND…: runs it in the background (its PID in PID_AT[PORT]), waits for PORT
    local port=$1; shift
    "$@" >"$WORK/$port.log" 2>&1 &
    PIDS+=($!)
    PID_AT[$port]=$!
    wait_port "$port"
}

# A CA and a leaf for 127.0.0.1 (haproxy wants the leaf and its key in one file).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench-ca \
    -keyout "$WORK/ca.key" -out "$WORK/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
    -keyout "$WORK/leaf.key" -out "$WORK/leaf.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$WORK/san.ext"
openssl x509 -req -in "$WORK/leaf.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial -days 2 \
    -extfile "$WORK/san.ext" -out "$WORK/leaf.pem" 2>/dev/null
cat "$WORK/leaf.pem" "$WORK/leaf.key" >"$WORK/haproxy.pem"

haproxy_tls() {  # haproxy_tls LISTEN UPSTREAM
    haproxy_conf "$1" "$2" "$WORK/haproxy-$1.cfg" ssl crt "$WORK/haproxy.pem"
    start "$1" haproxy -f "$WORK/haproxy-$1.cfg" -db
}
wirelog_tls() {  # wirelog_tls LISTEN UPSTREAM [--no-record]
    local db=(--db "$WORK/proxy-$1.sqlite")
    [[ ${3:-} == --no-record ]] && db=(--no-record)
    start "$1" "$BIN" proxy --listen "127.0.0.1:$1" --upstream "127.0.0.1:$2" --tls-cert "$WORK/leaf.pem" \
        --tls-key "$WORK/leaf.key" "${db[@]}" --max-connections 4000 --log-level warning
}
# The variants, each in front of UPSTREAM: the port of each in PORTS[name].
declare -A PORTS
NAMES=("wirelog proxy" "wirelog proxy --no-record" "haproxy ssl")
start_variants() {
    PORTS["wirelog proxy"]=$(free_port); wirelog_tls "${PORTS["wirelog proxy"]}" "$1"
    PORTS["wirelog proxy --no-record"]=$(free_port); wirelog_tls "${PORTS["wirelog proxy --no-record"]}" "$1" --no-record
    PORTS["haproxy ssl"]=$(free_port); haproxy_tls "${PORTS["haproxy ssl"]}" "$1"
}
bench_json() {  # bench_json PORT ARGS…: one `wirelog bench --json` run over TLS
    local port=$1; shift
    "$BIN" bench --json --tls --ca "$WORK/ca.pem" --to "127.0.0.1:$port" "$@"
}
field() { python3 -c "import json,sys; print(round(json.load(sys.stdin)$1))"; }

echo "## TLS: the terminating proxy vs haproxy \`ssl crt\` (benchmarks/tls.sh, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, RUNS=$RUNS)"
echo

REDIS=$(free_port)
start "$REDIS" redis-server --port "$REDIS" --bind 127.0.0.1 --save '' --appendonly no
start_variants "$REDIS"
declare -A PING PING_CPU
for ((run = 1; run <= RUNS; run++)); do  # alternating, same sitting
    for name in "${NAMES[@]}"; do
        pid=${PID_AT[${PORTS[$name]}]}
        before=$(cpu_ticks "$pid")
        bench_json "${PORTS[$name]}" --connections "$CONNS" --duration "$DURATION" --warmup 1s \
            --request 'PING\r\n' --expect '+PONG\r\n' >"$WORK/ping.json"
        read -r rps cpu < <(rate_and_cpu "$WORK/ping.json" "$before" "$(cpu_ticks "$pid")")
        PING[$name]+=" $rps"; PING_CPU[$name]+=" $cpu"
    done
done
ECHO=$(free_port)
start "$ECHO" "$BIN" bench echo --listen "127.0.0.1:$ECHO"
declare -A PING_PORTS
for name in "${NAMES[@]}"; do PING_PORTS[$name]=${PORTS[$name]}; done
start_variants "$ECHO"
declare -A BULK_RATE
for ((run = 1; run <= RUNS; run++)); do
    for name in "${NAMES[@]}"; do
        BULK_RATE[$name]+=" $(bench_json "${PORTS[$name]}" --connections 1 --bulk "$BULK" | field '["megabytes_per_second"]')"
    done
done
# Handshakes: `openssl s_time -new` connects, completes a full handshake and closes, in a loop.
declare -A HANDSHAKES
for ((run = 1; run <= RUNS; run++)); do
    for name in "${NAMES[@]}"; do
        HANDSHAKES[$name]+=" $(openssl s_time -connect "127.0.0.1:${PING_PORTS[$name]}" -new -time "$HANDSHAKE_SECONDS" \
            -CAfile "$WORK/ca.pem" 2>/dev/null | awk '/connections in [0-9.]+s/ {print int($1 / $4 + 0.5); exit}')"
    done
done

row() {  # row LABEL ASSOC-NAME UNIT
    local -n values=$2
    local haproxy
    haproxy=$(median ${values["haproxy ssl"]})
    echo "| $1 | $3 | $(for name in "${NAMES[@]}"; do m=$(median ${values[$name]}); printf '%s (%s) | %s× | ' "$m" "${values[$name]# }" "$(ratio "$m" "$haproxy")"; done)"
}
echo "| case | unit | wirelog proxy (recording) | vs haproxy | wirelog proxy --no-record | vs haproxy | haproxy ssl | |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
row "ping-pong to redis, $CONNS connections" PING "requests/s"
row "the same: the proxy's CPU per request (lower is better)" PING_CPU "µs"
row "bulk through an echo server, 1 connection, $((BULK >> 20)) MiB" BULK_RATE "MB/s"
row "new connections (full handshakes), openssl s_time -new" HANDSHAKES "connections/s"
echo
echo "(median of $RUNS alternating runs, all runs in parentheses; one load generator (\`wirelog bench --tls\`,"
echo "1 thread) on the same 2 cores as the proxy and the upstream, so the ratios within a row are the comparison;"
echo "TLS 1.3, P-256 certificate, for all.)"

if [[ ${PROFILE:-0} == 1 ]]; then
    pid=$(pgrep -f "proxy --listen 127.0.0.1:${PING_PORTS["wirelog proxy"]} " | head -1)
    bench_json "${PING_PORTS["wirelog proxy"]}" --connections "$CONNS" --duration 10s --request 'PING\r\n' --expect '+PONG\r\n' >/dev/null &
    load=$!
    sleep 1
    perf record -q -e cpu-clock -F 2000 -g -p "$pid" -o "$WORK/perf.data" -- sleep 8 2>/dev/null
    wait "$load"
    echo
    echo "Where the recording TLS proxy spends its time (ping-pong, perf, self time, top symbols):"
    echo
    echo '```'
    perf report -i "$WORK/perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -25 |
        swift demangle --simplified | cut -c1-150 || true
    echo '```'
fi
