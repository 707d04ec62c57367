#!/usr/bin/env bash
# What redaction costs, in one sitting on this machine: `serve` and `proxy` recording with five rules
# active against none (ping-pong, requests/s), and bulk bytes through the proxy with the http-auth
# preset against none (MB/s). Runs alternate, medians compared. Ping-pong also reports the server's
# own CPU time per request (from /proc): on a machine shared with other work the requests/s of two
# runs can differ by half, while the CPU each request costs the server barely moves. Prints a
# Markdown section (BENCHMARKS.md carries the last one). Everything on 127.0.0.1, free ports; every process started here is stopped.
# Knobs: RUNS (3), DURATION (5s), CONNS (50), BULK (268435456 bytes per connection), BULK_CONNS (1).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-50}
BULK=${BULK:-268435456}
BULK_CONNS=${BULK_CONNS:-1}
# shellcheck source=benchmarks/lib.sh
source "$ROOT/benchmarks/lib.sh"
prepare redactbench
command -v redis-server >/dev/null || { echo "needs redis-server (apt-get install redis-server)" >&2; exit 1; }
declare -A PID_OF
cleanup() {
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
rate() {  # rate PORT SERVER-NAME REQUEST EXPECT: "requests/s server-CPU-µs-per-request" of one wirelog bench run
    local pid=${PID_OF[$2]} before after
    before=$(cpu_ticks "$pid")
    "$BIN" bench --json --connections "$CONNS" --to "127.0.0.1:$1" --duration "$DURATION" --warmup 1s \
        --request "$3" --expect "$4" >"$WORK/rate.json"
    after=$(cpu_ticks "$pid")
    rate_and_cpu "$WORK/rate.json" "$before" "$after"
}
bulk() {  # bulk PORT: MB/s of one wirelog bench --bulk run through the echo server
    "$BIN" bench --json --connections "$BULK_CONNS" --to "127.0.0.1:$1" --bulk "$BULK" \
        | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["megabytes_per_second"]))'
}
# Five rules: three presets and two regexes, none of which matches the benchmark's traffic except
# lab-data (every DATA payload is hidden), so the cost measured is looking plus one token per command.
FIVE=(--redact-preset lab-data --redact-preset redis-auth --redact-preset http-auth
      --redact 'token=(\w+)' --redact '(?i)password: *(\S+)')

echo "## Redaction (benchmarks/redaction.sh, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, RUNS=$RUNS, DURATION=$DURATION, $CONNS connections)"
echo
P_NONE=$(free_port); start serve-none "$P_NONE" "$BIN" serve --listen "127.0.0.1:$P_NONE" --db "$WORK/none.sqlite" --log-level warning
P_FIVE=$(free_port); start serve-five "$P_FIVE" "$BIN" serve --listen "127.0.0.1:$P_FIVE" --db "$WORK/five.sqlite" --log-level warning "${FIVE[@]}"
P_REDIS=$(free_port); start redis "$P_REDIS" redis-server --port "$P_REDIS" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK"
P_PNONE=$(free_port); start proxy-none "$P_PNONE" "$BIN" proxy --listen "127.0.0.1:$P_PNONE" --upstream "127.0.0.1:$P_REDIS" --db "$WORK/pnone.sqlite" --log-level warning
P_PFIVE=$(free_port); start proxy-five "$P_PFIVE" "$BIN" proxy --listen "127.0.0.1:$P_PFIVE" --upstream "127.0.0.1:$P_REDIS" --db "$WORK/pfive.sqlite" --log-level warning "${FIVE[@]}"
P_ECHO=$(free_port); start echo "$P_ECHO" "$BIN" bench echo --listen "127.0.0.1:$P_ECHO"
P_BNONE=$(free_port); start bulk-none "$P_BNONE" "$BIN" proxy --listen "127.0.0.1:$P_BNONE" --upstream "127.0.0.1:$P_ECHO" --db "$WORK/bnone.sqlite" --log-level warning
P_BHTTP=$(free_port); start bulk-http "$P_BHTTP" "$BIN" proxy --listen "127.0.0.1:$P_BHTTP" --upstream "127.0.0.1:$P_ECHO" --db "$WORK/bhttp.sqlite" --log-level warning --redact-preset http-auth

serve_none=(); serve_five=(); proxy_none=(); proxy_five=(); bulk_none=(); bulk_http=()
serve_none_cpu=(); serve_five_cpu=(); proxy_none_cpu=(); proxy_five_cpu=()
for ((run = 1; run <= RUNS; run++)); do  # alternating, same sitting
    read -r rps cpu < <(rate "$P_NONE" serve-none 'DATA 0123456789abcdef\n' '300 DRCV\n'); serve_none+=("$rps"); serve_none_cpu+=("$cpu")
    read -r rps cpu < <(rate "$P_FIVE" serve-five 'DATA 0123456789abcdef\n' '300 DRCV\n'); serve_five+=("$rps"); serve_five_cpu+=("$cpu")
    read -r rps cpu < <(rate "$P_PNONE" proxy-none 'PING\r\n' '+PONG\r\n'); proxy_none+=("$rps"); proxy_none_cpu+=("$cpu")
    read -r rps cpu < <(rate "$P_PFIVE" proxy-five 'PING\r\n' '+PONG\r\n'); proxy_five+=("$rps"); proxy_five_cpu+=("$cpu")
    bulk_none+=("$(bulk "$P_BNONE")")
    bulk_http+=("$(bulk "$P_BHTTP")")
done
SN=$(median "${serve_none[@]}"); SF=$(median "${serve_five[@]}")
PN=$(median "${proxy_none[@]}"); PF=$(median "${proxy_five[@]}")
SNC=$(median "${serve_none_cpu[@]}"); SFC=$(median "${serve_five_cpu[@]}")
PNC=$(median "${proxy_none_cpu[@]}"); PFC=$(median "${proxy_five_cpu[@]}")
BN=$(median "${bulk_none[@]}"); BH=$(median "${bulk_http[@]}")
echo "| recording | no rules | five rules (lab-data, redis-auth, http-auth, 2 regexes) | ratio (goal ≥ 0.90) |"
echo "| --- | --- | --- | --- |"
echo "| serve, DATA ping-pong, requests/s (median: all runs) | $SN (${serve_none[*]}) | $SF (${serve_five[*]}) | $(ratio "$SF" "$SN") |"
echo "| proxy to redis, PING ping-pong, requests/s | $PN (${proxy_none[*]}) | $PF (${proxy_five[*]}) | $(ratio "$PF" "$PN") |"
echo "| serve, server CPU µs per request (median: all runs) | $SNC (${serve_none_cpu[*]}) | $SFC (${serve_five_cpu[*]}) | $(ratio "$SNC" "$SFC") |"
echo "| proxy, proxy CPU µs per request | $PNC (${proxy_none_cpu[*]}) | $PFC (${proxy_five_cpu[*]}) | $(ratio "$PNC" "$PFC") |"
echo
echo "| proxy bulk, $BULK_CONNS connection(s), $((BULK >> 20)) MiB each way | no rules | http-auth | ratio (goal ≥ 0.90) |"
echo "| --- | --- | --- | --- |"
echo "| MB/s (median: all runs) | $BN (${bulk_none[*]}) | $BH (${bulk_http[*]}) | $(ratio "$BH" "$BN") |"
