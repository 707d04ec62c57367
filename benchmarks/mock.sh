#!/usr/bin/env bash
# wirelog mock side by side with redis itself, in one run on this machine: redis PING at 50
# connections against redis (no persistence), against `wirelog mock` answering from a recording of
# that PING (recording its own sessions into SQLite), and against `wirelog mock --no-record`; each
# mock with its default event loops (one per core) and with one, as redis has one thread. Requests/s,
# each server's CPU per request (which varies far less than requests/s on a shared machine), the
# share of it the SQLite writer thread spent, and the load generator's CPU per request: the budget
# two cores have to share. Then the cost of matching by field: the same PING answered by a mock
# matching RESP commands by their words (the default) and by their bytes (`--match bytes`); and HTTP:
# `wrk` keep-alive GETs of one small JSON file served by nginx (Debian's) as a static file and by
# the mock from a recording of that GET (both without recording).
# Prints a Markdown section (BENCHMARKS.md carries the last one). Everything listens on 127.0.0.1
# on free ports; every process started here is stopped by PID. Knobs: RUNS (3), DURATION (5s), CONNS (50).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-50}
# shellcheck source=benchmarks/lib.sh
source "$ROOT/benchmarks/lib.sh"
prepare mockbench
trap stop_started EXIT
background() {  # background NAME PORT command…: started, its PID in PID_OF[NAME], listening on PORT
    local name=$1 port=$2; shift 2
    "$@" >"$WORK/$name.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    PID_OF[$name]=$PID
    wait_port "$port"
}
declare -A PID_OF PORT_OF RATES CPUS WRITER_CPUS GENERATOR_CPUS
rate() {  # rate NAME: one wirelog bench run of PING at CONNS connections against server NAME
    local before after writer_before
    before=$(cpu_ticks "${PID_OF[$1]}")
    writer_before=$(thread_ticks "${PID_OF[$1]}" wl-recorder)
    "$BIN" bench --json --connections "$CONNS" --to "127.0.0.1:${PORT_OF[$1]}" --duration "$DURATION" --warmup 1s \
        --request 'PING\r\n' --expect '+PONG\r\n' >"$WORK/rate.json"
    after=$(cpu_ticks "${PID_OF[$1]}")
    read -r rps cpu < <(rate_and_cpu "$WORK/rate.json" "$before" "$after")
    RATES[$1]+=" $rps"; CPUS[$1]+=" $cpu"
    WRITER_CPUS[$1]+=" $(per_request "$WORK/rate.json" $(($(thread_ticks "${PID_OF[$1]}" wl-recorder) - writer_before)))"
    GENERATOR_CPUS[$1]+=" $(generator_cpu "$WORK/rate.json")"
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

PORT_OF[redis]=$P_REDIS
NAMES=(redis)
mock() {  # mock NAME ARGS…: a mock of the recording
    PORT_OF[$1]=$(free_port)
    background "$1" "${PORT_OF[$1]}" "$BIN" mock --listen "127.0.0.1:${PORT_OF[$1]}" --db "$WORK/redis.sqlite" --log-level warning "${@:2}"
    NAMES+=("$1")
}
mock recording
mock no-record --no-record
mock recording-1 --threads 1
mock no-record-1 --no-record --threads 1
mock bytes --no-record --match bytes
declare -A LABEL=([recording]="wirelog mock (recording its sessions, SQLite)" [no-record]="wirelog mock --no-record"
                  [bytes]="wirelog mock --no-record --match bytes"
                  [recording-1]="wirelog mock --threads 1 (recording)" [no-record-1]="wirelog mock --threads 1 --no-record")
LABEL[redis]="redis $(redis-server --version | cut -d' ' -f3 | cut -d= -f2) (no persistence, one thread)"

for ((run = 1; run <= RUNS; run++)); do  # alternating, same sitting
    for name in "${NAMES[@]}"; do rate "$name"; done
done
R=$(median ${RATES[redis]}); RC=$(median ${CPUS[redis]})

echo "## Mock (benchmarks/mock.sh, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, RUNS=$RUNS, DURATION=$DURATION)"
echo
echo "redis \`PING\` at $CONNS connections (\`wirelog bench\`, one request in flight per connection), median of $RUNS alternating runs:"
echo
echo "| server | requests/s | vs redis | CPU µs per request | of it, the SQLite writer thread | redis's ÷ this | load generator's CPU µs per request | runs (requests/s) | runs (CPU µs) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"
for name in "${NAMES[@]}"; do
    m=$(median ${RATES[$name]}); c=$(median ${CPUS[$name]})
    echo "| ${LABEL[$name]} | $m | $(ratio "$m" "$R")× | $c | $(median ${WRITER_CPUS[$name]}) | $(ratio "$RC" "$c")× | $(median ${GENERATOR_CPUS[$name]}) |${RATES[$name]} |${CPUS[$name]} |"
done

echo
echo "Matching by field (RESP command and arguments) ÷ by bytes, same PING traffic: $(ratio "$(median ${RATES[no-record]})" "$(median ${RATES[bytes]})")× requests/s, $(ratio "$(median ${CPUS[bytes]})" "$(median ${CPUS[no-record]})")× bytes' CPU per request ÷ fields'."

# HTTP: nginx serving a file, and the mock answering from a recording of that GET.
mkdir -p "$WORK/www"
printf '{"greeting":"hello","items":[1,2,3]}\n' >"$WORK/www/hello.json"
P_NGINX=$(free_port)
cat >"$WORK/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    types { application/json json; }
    client_body_temp_path $WORK; proxy_temp_path $WORK; fastcgi_temp_path $WORK; uwsgi_temp_path $WORK; scgi_temp_path $WORK;
    server { listen 127.0.0.1:$P_NGINX; root $WORK/www; keepalive_requests 1000000; }
}
CONF
background nginx "$P_NGINX" nginx -c "$WORK/nginx.conf"
P_HTTP_PROXY=$(free_port)
background http-proxy "$P_HTTP_PROXY" "$BIN" proxy --listen "127.0.0.1:$P_HTTP_PROXY" --upstream "127.0.0.1:$P_NGINX" --db "$WORK/http.sqlite" --log-level warning
curl -sS "http://127.0.0.1:$P_HTTP_PROXY/hello.json" >/dev/null
kill -TERM "$PID"; wait "$PID" 2>/dev/null || true
P_HTTP_MOCK=$(free_port)
background http-mock "$P_HTTP_MOCK" "$BIN" mock --listen "127.0.0.1:$P_HTTP_MOCK" --db "$WORK/http.sqlite" --no-record --log-level warning
declare -A HTTP_RATES
for ((run = 1; run <= RUNS; run++)); do
    for name in nginx http-mock; do
        port=$P_NGINX; [[ $name == http-mock ]] && port=$P_HTTP_MOCK
        HTTP_RATES[$name]+=" $(wrk -t1 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:$port/hello.json" | awk '/Requests\/sec/ {printf "%d", $2}')"
    done
done
echo
echo "HTTP keep-alive GET of a small JSON file, \`wrk -t1 -c$CONNS\`, median of $RUNS alternating runs:"
echo
echo "| server | requests/s | vs nginx | runs |"
echo "| --- | ---: | ---: | --- |"
N=$(median ${HTTP_RATES[nginx]})
echo "| nginx $(nginx -v 2>&1 | cut -d/ -f2) (static file) | $N | 1.00× |${HTTP_RATES[nginx]} |"
M=$(median ${HTTP_RATES[http-mock]})
echo "| wirelog mock --no-record (matching by field) | $M | $(ratio "$M" "$N")× |${HTTP_RATES[http-mock]} |"
