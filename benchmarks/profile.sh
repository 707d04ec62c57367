#!/usr/bin/env bash
# Where `wirelog serve` spends its time under the case-1 load (50 connections, recording on):
# perf samples (cpu-clock: this machine has no hardware counters) of the server and, separately,
# per-thread CPU. Prints the top symbols, demangled. Usage: benchmarks/profile.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_PROFILE=${1:-8}
CONNS=${2:-50}
BIN=${WIRELOG_BIN:-$(swift build -c release --show-bin-path)/wirelog}
WORK=$(mktemp -d /tmp/wirelog-profile.XXXXXX)
PORT=$(python3 benchmarks/tools.py free-port)
"$BIN" serve --listen "127.0.0.1:$PORT" --db "$WORK/p.sqlite" --log-level warning ${SERVE_ARGS:-} >"$WORK/serve.log" 2>&1 &
SERVE=$!
trap 'kill -TERM $SERVE 2>/dev/null; wait $SERVE 2>/dev/null; rm -rf "$WORK"' EXIT
for ((i = 0; i < 200; i++)); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done

"$BIN" bench --to "127.0.0.1:$PORT" --connections "$CONNS" --duration "$((SECONDS_TO_PROFILE + 2))s" --json >"$WORK/bench.json" &
BENCH=$!
sleep 1
threads_before=$(for t in /proc/$SERVE/task/*; do echo "${t##*/} $(awk '{print $14 + $15}' "$t/stat")"; done)
perf record -q -e cpu-clock -F 2000 -g -p "$SERVE" -o "$WORK/perf.data" -- sleep "$SECONDS_TO_PROFILE" 2>/dev/null
threads_after=$(for t in /proc/$SERVE/task/*; do echo "${t##*/} $(awk '{print $14 + $15}' "$t/stat") $(tr ' ' _ <"$t/comm")"; done)
wait $BENCH
echo "== load: $(cat "$WORK/bench.json")"
echo "== server CPU seconds per thread during the profile (tid, name, seconds)"
join <(echo "$threads_before" | sort) <(echo "$threads_after" | sort) |
    awk -v t="$(getconf CLK_TCK)" '{d = ($3 - $2) / t; if (d > 0) printf "%-8s %-20s %.2f\n", $1, $4, d}' | sort -k3 -nr
echo "== top symbols (self time, all threads)"
perf report -i "$WORK/perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -30 |
    swift demangle --simplified | cut -c1-160 || true  # head closes the pipe early: not a failure
echo "== by thread and library"
perf report -i "$WORK/perf.data" --no-children --sort comm,dso --stdio -g none 2>/dev/null | grep -E "^ +[0-9]" | head -24 || true
