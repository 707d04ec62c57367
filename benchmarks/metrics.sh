#!/usr/bin/env bash
# What `--metrics` costs, in one sitting on this machine: serve recording the lab's DATA load, and
# the recording proxy in front of redis (PING ping-pong), each with and without `--metrics`, runs
# alternating, medians compared, with the recorder's CPU per request (from /proc). A scraper reads
# /metrics once a second during the runs with it, as Prometheus would. Prints a Markdown section
# (BENCHMARKS.md carries the last one). Everything on 127.0.0.1, free ports; every process started
# here is stopped. Needs a release build and redis-server.
# Knobs: RUNS (3), DURATION (5), CONNS (50).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-50}
# shellcheck source=benchmarks/lib.sh
source "$ROOT/benchmarks/lib.sh"
prepare metricsbench
command -v redis-server >/dev/null || { echo "needs redis-server" >&2; exit 1; }
declare -A PID_OF PORT_OF
trap stop_started EXIT

recorder() {  # recorder NAME METRICS(yes|no) COMMAND ARGS…: a wirelog recorder on PORT_OF[NAME]
    local name=$1 metrics=$2
    shift 2
    PORT_OF[$name]=$(free_port)
    local extra=()
    if [[ $metrics == yes ]]; then
        PORT_OF[$name-metrics]=$(free_port)
        extra=(--metrics "127.0.0.1:${PORT_OF[$name-metrics]}")
    fi
    start "$name" "${PORT_OF[$name]}" "$BIN" "$@" --listen "127.0.0.1:${PORT_OF[$name]}" --db "$WORK/$name.sqlite" \
        --log-level warning "${extra[@]}"
}
load() {  # load NAME REQUEST EXPECT: "rate recorder-CPU-µs-per-request", scraping /metrics meanwhile if it has one
    local name=$1 pid=${PID_OF[$1]} before after rate requests scraper=
    if [[ -n ${PORT_OF[$name-metrics]:-} ]]; then
        (while sleep 1; do curl -s "http://127.0.0.1:${PORT_OF[$name-metrics]}/metrics" >/dev/null || true; done) &
        scraper=$!
    fi
    before=$(cpu_ticks "$pid")
    read -r rate requests < <("$BIN" bench --json --connections "$CONNS" --to "127.0.0.1:${PORT_OF[$name]}" \
        --duration "${DURATION}s" --warmup 1s --request "$2" --expect "$3" |
        python3 -c 'import json,sys; r = json.load(sys.stdin); print(round(r["requests_per_second"]), r["requests"] + r["warmup_requests"])')
    after=$(cpu_ticks "$pid")
    [[ -n $scraper ]] && kill "$scraper" 2>/dev/null || true
    echo "$rate $(awk -v t=$((after - before)) -v n="$requests" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.1f", t / hz * 1e6 / n}')"
}

echo "## Metrics (benchmarks/metrics.sh, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, RUNS=$RUNS, DURATION=${DURATION}s, $CONNS connections)"
echo
P_REDIS=$(free_port); start redis "$P_REDIS" redis-server --port "$P_REDIS" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK"
recorder serve-plain no serve
recorder serve-metrics yes serve
recorder proxy-plain no proxy --upstream "127.0.0.1:$P_REDIS" --decode raw
recorder proxy-metrics yes proxy --upstream "127.0.0.1:$P_REDIS" --decode raw

echo "| load, recording into SQLite | without \`--metrics\` | with \`--metrics\` (scraped every second) | ratio | recorder CPU µs/request without → with |"
echo "| --- | --- | --- | --- | --- |"
row() {  # row LABEL PLAIN WITH REQUEST EXPECT
    local label=$1 plain=$2 with=$3 request=$4 expect=$5 i a b
    local rp=() rm=() cp=() cm=()
    for ((i = 0; i < RUNS; i++)); do
        read -r a b < <(load "$plain" "$request" "$expect"); rp+=("$a"); cp+=("$b")
        read -r a b < <(load "$with" "$request" "$expect"); rm+=("$a"); cm+=("$b")
    done
    local mp mm
    mp=$(median "${rp[@]}"); mm=$(median "${rm[@]}")
    echo "| $label, req/s | $mp (${rp[*]}) | $mm (${rm[*]}) | $(ratio "$mm" "$mp") | $(median "${cp[@]}") → $(median "${cm[@]}") |"
}
row "serve DATA" serve-plain serve-metrics 'DATA 0123456789abcdef\n' '300 DRCV\n'
row "proxy → redis PING" proxy-plain proxy-metrics 'PING\r\n' '+PONG\r\n'
