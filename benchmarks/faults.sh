#!/usr/bin/env bash
# Faults (docs/FAULTS.md), in one sitting on this machine: how exact latency and bandwidth are, and
# what a proxy with the fault machinery but no toxic costs against today's plain forwarding.
#  - no-toxic overhead: the recording proxy in front of redis (PING ping-pong), plain and with
#    `--api` (a fault set, no toxic), runs alternating, medians compared;
#  - latency: the same load at 1 connection (1/latency requests/s) through `--fault latency`;
#    the added delay is the p50 and p99 minus those of the plain proxy, against the asked value;
#  - bandwidth: curl fetches BYTES through `--fault bandwidth:rate=R`; the rate achieved against R.
# Prints a Markdown section. Everything on 127.0.0.1, free ports; every process started here is
# stopped. Needs a release build, redis-server, python3 and curl.
# Knobs: RUNS (3), DURATION (5), CONNS (50), LATENCY (20 ms), RATE (1000 KB/s), BYTES (5000000).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-50}
LATENCY=${LATENCY:-20}
RATE=${RATE:-1000}
BYTES=${BYTES:-5000000}
# shellcheck source=benchmarks/lib.sh
source "$ROOT/benchmarks/lib.sh"
prepare faultsbench
command -v redis-server >/dev/null || { echo "needs redis-server" >&2; exit 1; }
declare -A PID_OF PORT_OF
trap stop_started EXIT

proxy() {  # proxy NAME UPSTREAM-PORT ARGS…: a recording proxy on PORT_OF[NAME]
    local name=$1 upstream=$2
    shift 2
    PORT_OF[$name]=$(free_port)
    start "$name" "${PORT_OF[$name]}" "$BIN" proxy --listen "127.0.0.1:${PORT_OF[$name]}" --upstream "127.0.0.1:$upstream" \
        --decode raw --db "$WORK/$name.sqlite" --log-level warning "$@"
}
bench() {  # bench NAME CONNECTIONS: "requests/s p50-µs p99-µs"
    "$BIN" bench --json --connections "$2" --to "127.0.0.1:${PORT_OF[$1]}" --duration "${DURATION}s" --warmup 1s \
        --request 'PING\r\n' --expect '+PONG\r\n' |
        python3 -c 'import json,sys; r = json.load(sys.stdin); l = r["latency_micros"]
print(round(r["requests_per_second"]), round(l["p50"]), round(l["p99"]))'
}

echo "## Faults (benchmarks/faults.sh, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, RUNS=$RUNS, DURATION=${DURATION}s)"
echo
P_REDIS=$(free_port); start redis "$P_REDIS" redis-server --port "$P_REDIS" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK"
proxy plain "$P_REDIS"
# A proxy of a fleet (--api) runs one event loop unless told: as many as the plain one, to compare like with like.
proxy machinery "$P_REDIS" --api "127.0.0.1:$(free_port)" --threads "$(nproc)"
proxy latency "$P_REDIS" --fault "latency:latency=$LATENCY,stream=downstream"

rp=(); rm=()
for ((i = 0; i < RUNS; i++)); do
    read -r a _ _ < <(bench plain "$CONNS"); rp+=("$a")
    read -r a _ _ < <(bench machinery "$CONNS"); rm+=("$a")
done
echo "| proxy → redis PING, $CONNS connections | plain | with \`--api\`, no toxic | ratio |"
echo "| --- | --- | --- | --- |"
echo "| req/s | $(median "${rp[@]}") (${rp[*]}) | $(median "${rm[@]}") (${rm[*]}) | $(ratio "$(median "${rm[@]}")" "$(median "${rp[@]}")") |"
echo

read -r _ base50 base99 < <(bench plain 1)
read -r rate lat50 lat99 < <(bench latency 1)
echo "| latency=$LATENCY ms, 1 connection ($rate req/s) | added p50 | added p99 | asked |"
echo "| --- | --- | --- | --- |"
echo "| through \`--fault latency\` | $(awk -v a="$lat50" -v b="$base50" 'BEGIN{printf "%.2f ms", (a-b)/1000}') | $(awk -v a="$lat99" -v b="$base99" 'BEGIN{printf "%.2f ms", (a-b)/1000}') | $LATENCY ms |"
echo

mkdir -p "$WORK/site"
head -c "$BYTES" /dev/urandom >"$WORK/site/blob.bin"
P_HTTP=$(free_port); start http "$P_HTTP" python3 -m http.server "$P_HTTP" --bind 127.0.0.1 --directory "$WORK/site"
proxy bandwidth "$P_HTTP" --fault "bandwidth:rate=$RATE"
seconds=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:${PORT_OF[bandwidth]}/blob.bin")
echo "| bandwidth | asked | achieved | error |"
echo "| --- | --- | --- | --- |"
awk -v b="$BYTES" -v s="$seconds" -v r="$RATE" 'BEGIN{a = b / s / 1000; printf "| %d bytes in %.2f s | %d KB/s | %.0f KB/s | %+.1f %% |\n", b, s, r, a, (a - r) / r * 100}'
