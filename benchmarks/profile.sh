#!/usr/bin/env bash
# Where wirelog spends its time under load, recording on: perf samples (cpu-clock: this machine has
# no hardware counters) of the process and, separately, per-thread CPU. Prints the top symbols,
# demangled. Usage: benchmarks/profile.sh [seconds] [connections]. PROFILE_CASE picks the load:
# `serve` (default; case 1's DATA ping-pong) or `proxy` (case 2's redis PING through a recording
# `wirelog proxy`; redis-server from Debian). SERVE_ARGS / PROXY_ARGS add options.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_TO_PROFILE=${1:-8}
CONNS=${2:-50}
PROFILE_CASE=${PROFILE_CASE:-serve}
# shellcheck source=benchmarks/lib.sh
source "$ROOT/benchmarks/lib.sh"
prepare profile
declare -A PID_OF
trap stop_started EXIT
PORT=$(free_port)
case $PROFILE_CASE in
serve)
    start wirelog "$PORT" "$BIN" serve --listen "127.0.0.1:$PORT" --db "$WORK/p.sqlite" --log-level warning ${SERVE_ARGS:-}
    LOAD=(--request 'DATA 0123456789abcdef\n' --expect '300 DRCV\n')
    ;;
proxy)
    UPSTREAM=$(free_port)
    start redis "$UPSTREAM" redis-server --port "$UPSTREAM" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK"
    start wirelog "$PORT" "$BIN" proxy --listen "127.0.0.1:$PORT" --upstream "127.0.0.1:$UPSTREAM" --db "$WORK/p.sqlite" \
        --log-level warning ${PROXY_ARGS:-}
    LOAD=(--request 'PING\r\n' --expect '+PONG\r\n')
    ;;
*) echo "PROFILE_CASE is serve or proxy, not $PROFILE_CASE" >&2; exit 2 ;;
esac
PROFILED=${PID_OF[wirelog]}

"$BIN" bench --to "127.0.0.1:$PORT" --connections "$CONNS" --duration "$((SECONDS_TO_PROFILE + 2))s" --json "${LOAD[@]}" >"$WORK/bench.json" &
BENCH=$!
sleep 1
threads_before=$(for t in /proc/$PROFILED/task/*; do echo "${t##*/} $(stat_ticks "$t/stat")"; done)
perf record -q -e cpu-clock -F 2000 -g -p "$PROFILED" -o "$WORK/perf.data" -- sleep "$SECONDS_TO_PROFILE" 2>/dev/null
threads_after=$(for t in /proc/$PROFILED/task/*; do echo "${t##*/} $(stat_ticks "$t/stat") $(tr ' ' _ <"$t/comm")"; done)
wait $BENCH
echo "== load: $(cat "$WORK/bench.json")"
echo "== server CPU seconds per thread during the profile (tid, name, seconds)"
join <(echo "$threads_before" | sort) <(echo "$threads_after" | sort) |
    awk -v t="$(getconf CLK_TCK)" '{d = ($3 - $2) / t; if (d > 0) printf "%-8s %-20s %.2f\n", $1, $4, d}' | sort -k3 -nr |
    tee "$WORK/threads.txt"
# CPU per request: what recording adds shows in the recorder's line (the event loops do the rest).
python3 - "$WORK/bench.json" "$WORK/threads.txt" "$SECONDS_TO_PROFILE" <<'PY'
import json, sys
rate = json.load(open(sys.argv[1]))["requests_per_second"]
requests = rate * float(sys.argv[3])
threads = [line.split() for line in open(sys.argv[2]) if line.strip()]
total = sum(float(t[2]) for t in threads)
writer = sum(float(t[2]) for t in threads if t[1] == "wl-recorder")
print(f"== {rate:,.0f} requests/s; CPU per request: {total / requests * 1e6:.1f} µs in all, {writer / requests * 1e6:.1f} µs on the recorder thread")
PY
echo "== top symbols (self time, all threads)"
perf report -i "$WORK/perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -30 |
    swift demangle --simplified | cut -c1-160 || true  # head closes the pipe early: not a failure
echo "== by thread and library"
perf report -i "$WORK/perf.data" --no-children --sort comm,dso --stdio -g none 2>/dev/null | grep -E "^ +[0-9]" | head -24 || true
