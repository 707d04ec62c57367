#!/usr/bin/env bash
# What decoding costs the recording proxy, in one sitting on this machine: each protocol's traffic
# through a proxy with `--decode raw` and one with `--decode auto` (which picks http, resp or
# postgres), runs alternating, medians compared. Besides the clients' own rates it reports the
# proxy's CPU per request (from /proc), the steadier figure on a machine shared with other work.
# Prints a Markdown section (BENCHMARKS.md carries the last one). Everything on 127.0.0.1, free
# ports; every process started here is stopped. Needs a release build, redis-server, nginx, wrk,
# redis-benchmark and PostgreSQL's server and pgbench (the project's scripts/pg-test-cluster).
# Knobs: RUNS (3), DURATION (5), CONNS (50), PROFILE (set: perf-profile the auto proxy under the
# pipelined RESP load and print its top symbols).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-50}
# shellcheck source=benchmarks/lib.sh
source "$ROOT/benchmarks/lib.sh"
prepare decodebench
for tool in redis-server redis-benchmark nginx wrk pgbench; do
    command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install redis-server redis-tools nginx-light wrk postgresql)" >&2; exit 1; }
done
PG_DIR=
declare -A PID_OF
cleanup() {
    [[ -n $PG_DIR ]] && scripts/pg-test-cluster stop "$PG_DIR" >/dev/null 2>&1 || true
    stop_started
}
trap cleanup EXIT

declare -A PORT_OF
proxy() {  # proxy NAME DECODING UPSTREAM-PORT: a recording proxy, listening on PORT_OF[NAME]
    PORT_OF[$1]=$(free_port)
    start "$1" "${PORT_OF[$1]}" "$BIN" proxy --listen "127.0.0.1:${PORT_OF[$1]}" --upstream "127.0.0.1:$3" --decode "$2" \
        --db "$WORK/$1.sqlite" --log-level warning
}
measured() {  # measured PROXY-NAME COMMAND…: "rate proxy-CPU-µs-per-request"; COMMAND prints "rate requests"
    local pid=${PID_OF[$1]} before after rate requests
    shift
    before=$(cpu_ticks "$pid")
    read -r rate requests < <("$@")
    after=$(cpu_ticks "$pid")
    echo "$rate $(awk -v t=$((after - before)) -v n="$requests" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.1f", t / hz * 1e6 / n}')"
}
ping_pong() {  # PORT: wirelog bench's PING ping-pong (inline RESP)
    "$BIN" bench --json --connections "$CONNS" --to "127.0.0.1:$1" --duration "${DURATION}s" --warmup 1s \
        --request 'PING\r\n' --expect '+PONG\r\n' |
        python3 -c 'import json,sys; r = json.load(sys.stdin); print(round(r["requests_per_second"]), r["requests"] + r["warmup_requests"])'
}
pipelined() {  # PORT: redis-benchmark SET, 16 commands per write
    local n=400000
    redis-benchmark -p "$1" -c "$CONNS" -n "$n" -P 16 -t set -q 2>/dev/null | tr '\r' '\n' |
        awk -v n="$n" '/^SET: [0-9.]+ requests per second/ {print int($2), n}' | tail -1
}
http() {  # PORT: wrk keep-alive GETs of a small page
    wrk -t1 -c "$CONNS" -d "${DURATION}s" "http://127.0.0.1:$1/" 2>/dev/null |
        awk '/requests in/ {n = $1} /Requests\/sec/ {r = int($2)} END {print r, n}'
}
pgbench_run() {  # PORT: pgbench -M prepared, select-only, 10 clients
    pgbench -n -M prepared -S -c 10 -T "$DURATION" "postgres://wirelog@127.0.0.1:$1/wirelog" 2>/dev/null |
        awk '/^number of transactions actually processed/ {split($0, a, ": "); split(a[2], b, "/"); n = b[1]}
             /^tps/ {print int($3), n}'
}

echo "## Decoding (benchmarks/decode.sh, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, RUNS=$RUNS, DURATION=${DURATION}s, $CONNS connections)"
echo
P_REDIS=$(free_port); start redis "$P_REDIS" redis-server --port "$P_REDIS" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK"
P_NGINX=$(free_port)
cat >"$WORK/nginx.conf" <<CONF
daemon off;
worker_processes 1;
error_log $WORK/nginx-error.log;
pid $WORK/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $WORK; proxy_temp_path $WORK; fastcgi_temp_path $WORK; uwsgi_temp_path $WORK; scgi_temp_path $WORK;
    server { listen 127.0.0.1:$P_NGINX; location / { default_type text/plain; return 200 "hello from nginx\n"; } }
}
CONF
start nginx "$P_NGINX" nginx -c "$WORK/nginx.conf" -p "$WORK"
exports=$(scripts/pg-test-cluster start 2>/dev/null)
eval "$exports"
PG_DIR=$WIRELOG_TEST_POSTGRES_DIR
P_PG=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlparse(sys.argv[1]).port)' "$WIRELOG_TEST_POSTGRES_URL")
pgbench -i -q -s 2 "$WIRELOG_TEST_POSTGRES_URL" >/dev/null 2>&1

for upstream in redis nginx pg; do
    case $upstream in redis) up=$P_REDIS ;; nginx) up=$P_NGINX ;; pg) up=$P_PG ;; esac
    for decoding in raw auto; do proxy "$upstream-$decoding" "$decoding" "$up"; done
done
# Warm the pgbench connections' server side once through each proxy.
for decoding in raw auto; do pgbench_run "${PORT_OF[pg-$decoding]}" >/dev/null; done

declare -A RATES CPUS
for ((run = 1; run <= RUNS; run++)); do
    for case in ping:redis:ping_pong pipelined:redis:pipelined http:nginx:http pgbench:pg:pgbench_run; do
        IFS=: read -r name upstream command <<<"$case"
        for decoding in raw auto; do
            read -r rate cpu < <(measured "$upstream-$decoding" "$command" "${PORT_OF[$upstream-$decoding]}")
            RATES[$name-$decoding]+="$rate "; CPUS[$name-$decoding]+="$cpu "
        done
    done
done

echo "| load through the recording proxy | \`--decode raw\` | \`--decode auto\` (decoded) | ratio (goal ≥ 0.90) | proxy CPU µs/request raw → auto |"
echo "| --- | --- | --- | --- | --- |"
for case in "ping:redis PING ping-pong (wirelog bench), req/s" "pipelined:redis SET -P 16 (redis-benchmark), req/s" \
            "http:HTTP keep-alive GET (wrk → nginx), req/s" "pgbench:pgbench -M prepared -S, 10 clients, tps"; do
    IFS=: read -r name label <<<"$case"
    # shellcheck disable=SC2086
    raw=$(median ${RATES[$name-raw]}); auto=$(median ${RATES[$name-auto]})
    # shellcheck disable=SC2086
    raw_cpu=$(median ${CPUS[$name-raw]}); auto_cpu=$(median ${CPUS[$name-auto]})
    echo "| $label | $raw (${RATES[$name-raw]% }) | $auto (${RATES[$name-auto]% }) | $(ratio "$auto" "$raw") | $raw_cpu → $auto_cpu ($(ratio "$raw_cpu" "$auto_cpu")) |"
done
echo
for upstream in redis nginx pg; do
    rows=$(sqlite3 "$WORK/$upstream-auto.sqlite" "SELECT decoding || ': ' || count(*) || ' sessions' FROM sessions GROUP BY decoding" 2>/dev/null | paste -sd, -)
    echo "- the auto proxy in front of $upstream recorded $rows"
done

if [[ -n ${PROFILE:-} ]]; then
    echo
    echo '```'
    pid=${PID_OF[redis-auto]}
    pipelined "${PORT_OF[redis-auto]}" >/dev/null &
    load=$!
    sleep 1
    perf record -q -e cpu-clock -F 2000 -g -p "$pid" -o "$WORK/perf.data" -- sleep 4 2>/dev/null
    wait $load || true
    perf report -i "$WORK/perf.data" --no-children --sort symbol --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -25 |
        swift demangle --simplified | cut -c1-150 || true
    echo '```'
fi
