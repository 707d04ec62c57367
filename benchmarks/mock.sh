#!/usr/bin/env bash
# wirelog mock side by side with redis itself, in one run on this machine: redis PING at 50
# connections against redis (no persistence), against `wirelog mock` answering from a recording of
# that PING (recording its own sessions into SQLite), and against `wirelog mock --no-record`.
# Prints a Markdown section (BENCHMARKS.md carries the last one). Everything listens on 127.0.0.1
# on free ports; every process started here is stopped by PID. Knobs: RUNS (3), DURATION (5s), CONNS (50).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-50}
BIN=${WIRELOG_BIN:-$(swift build -c release --show-bin-path)/wirelog}
[[ -x $BIN ]] || { echo "build first: swift build -c release (or set WIRELOG_BIN)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/wirelog-mockbench.XXXXXX)
PIDS=()
trap stop_started EXIT
# shellcheck source=benchmarks/lib.sh
source "$ROOT/benchmarks/lib.sh"
background() {  # background NAME PORT command…: started, its PID in PID, listening on PORT
    local name=$1 port=$2; shift 2
    "$@" >"$WORK/$name.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    wait_port "$port"
}
rate() {  # rate PORT: requests/s of one wirelog bench run of PING at CONNS connections
    "$BIN" bench --json --connections "$CONNS" --to "127.0.0.1:$1" --duration "$DURATION" --warmup 1s \
        --request 'PING\r\n' --expect '+PONG\r\n' | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["requests_per_second"]))'
}

P_REDIS=$(free_port)
background redis "$P_REDIS" redis-server --port "$P_REDIS" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK"

# The recording: one PING through the proxy, as wirelog bench sends it.
P_PROXY=$(free_port)
background proxy "$P_PROXY" "$BIN" proxy --listen "127.0.0.1:$P_PROXY" --upstream "127.0.0.1:$P_REDIS" --db "$WORK/redis.sqlite" --log-level warning
PROXY_PID=$PID
exec 3<>"/dev/tcp/127.0.0.1/$P_PROXY"
printf 'PING\r\n' >&3
read -r -t 5 reply <&3
exec 3<&-
[[ $reply == $'+PONG\r' ]] || { echo "the recording went wrong: $reply" >&2; exit 1; }
kill -TERM "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true

P_MOCK=$(free_port)
background mock "$P_MOCK" "$BIN" mock --listen "127.0.0.1:$P_MOCK" --db "$WORK/redis.sqlite" --log-level warning
P_NOREC=$(free_port)
background mock-norecord "$P_NOREC" "$BIN" mock --listen "127.0.0.1:$P_NOREC" --db "$WORK/redis.sqlite" --no-record --log-level warning

redis=(); mock=(); norecord=()
for ((run = 1; run <= RUNS; run++)); do  # alternating, same sitting
    redis+=("$(rate "$P_REDIS")")
    mock+=("$(rate "$P_MOCK")")
    norecord+=("$(rate "$P_NOREC")")
done
R=$(median "${redis[@]}"); M=$(median "${mock[@]}"); N=$(median "${norecord[@]}")

echo "## Mock (benchmarks/mock.sh, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, RUNS=$RUNS, DURATION=$DURATION)"
echo
echo "redis \`PING\` at $CONNS connections (\`wirelog bench\`, one request in flight per connection), median of $RUNS alternating runs:"
echo
echo "| server | requests/s | vs redis | runs |"
echo "| --- | ---: | ---: | --- |"
echo "| redis $(redis-server --version | cut -d' ' -f3 | cut -d= -f2) (no persistence) | $R | 1.00× | ${redis[*]} |"
echo "| wirelog mock (recording its sessions, SQLite) | $M | $(ratio "$M" "$R")× | ${mock[*]} |"
echo "| wirelog mock --no-record | $N | $(ratio "$N" "$R")× | ${norecord[*]} |"
