# Shell helpers the benchmark scripts share; sourced with ROOT set to the repository.

free_port() { python3 "$ROOT/benchmarks/tools.py" free-port; }

# median VALUE…: the middle value (the lower middle of an even count).
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# ratio A B: A ÷ B to two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }

# stat_ticks STAT-FILE: the user and system time in a /proc …/stat file, in clock ticks.
stat_ticks() { awk '{print $14 + $15}' "$1"; }

# cpu_ticks PID: the user and system time of a process so far, in clock ticks.
cpu_ticks() { stat_ticks "/proc/$1/stat"; }

# thread_ticks PID NAME: the user and system time so far of the threads of PID named NAME (0 if none).
thread_ticks() {
    local total=0 task
    for task in /proc/"$1"/task/*; do
        [[ $(<"$task/comm") == "$2" ]] && total=$((total + $(stat_ticks "$task/stat")))
    done
    echo "$total"
}

# per_request BENCH-JSON TICKS: TICKS of CPU as µs per request of one `wirelog bench --json` run
# (warm-up requests included, as the ticks are taken around the whole run).
per_request() {
    python3 -c 'import json,sys; r = json.load(open(sys.argv[1]))
print(round(float(sys.argv[2]) / int(sys.argv[3]) * 1e6 / (r["requests"] + r["warmup_requests"]), 1))' "$1" "$2" "$(getconf CLK_TCK)"
}

# generator_cpu BENCH-JSON: the load generator's own CPU µs per request in that run.
generator_cpu() {
    per_request "$1" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["generator_cpu_seconds"] * int(sys.argv[2]))' \
        "$1" "$(getconf CLK_TCK)")"
}

# rate_and_cpu BENCH-JSON TICKS-BEFORE TICKS-AFTER: "requests/s server-CPU-µs-per-request" of one
# `wirelog bench --json` run, given the server's cpu_ticks around it. On a machine shared with other
# work the requests/s of two runs can differ by half; the CPU each request costs the server barely moves.
rate_and_cpu() {
    echo "$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["requests_per_second"]))' "$1")" \
        "$(per_request "$1" $(($3 - $2)))"
}

# haproxy_conf LISTEN UPSTREAM FILE [BIND OPTION…]: a TCP haproxy from 127.0.0.1:LISTEN to
# 127.0.0.1:UPSTREAM (the bind options add, for example, `ssl crt PEM`).
haproxy_conf() {
    local listen=$1 upstream=$2 file=$3
    shift 3
    cat >"$file" <<CONF
global
    maxconn $(( ($(ulimit -Hn) - 200) / 2 ))
defaults
    mode tcp
    timeout connect 5s
    timeout client 300s
    timeout server 300s
listen bench
    bind 127.0.0.1:$listen $*
    server upstream 127.0.0.1:$upstream
CONF
}

# wait_port PORT: until something accepts connections on 127.0.0.1:PORT (10 s at most, then exit 1).
wait_port() {
    for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done
    echo "nothing listens on $1" >&2; exit 1
}

# start NAME PORT COMMAND…: COMMAND in the background (output in WORK/NAME.log, PID in PIDS and in
# the caller's PID_OF[NAME]) until PORT accepts connections; if it never does, its log and exit 1.
start() {
    local name=$1 port=$2
    shift 2
    "$@" >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    PID_OF[$name]=$!
    for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return; sleep 0.05; done
    cat "$WORK/$name.log" >&2; exit 1
}

# stop_started: the EXIT trap of a script that keeps what it started in PIDS and its files in WORK.
stop_started() {
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}

# prepare NAME: the binary to measure in BIN (a release build, or $WIRELOG_BIN), an empty work
# directory in WORK and PIDS for `start`; the caller sets its EXIT trap (`stop_started` at least).
prepare() {
    BIN=${WIRELOG_BIN:-$(swift build -c release --show-bin-path)/wirelog}
    [[ -x $BIN ]] || { echo "build first: swift build -c release (or set WIRELOG_BIN)" >&2; exit 1; }
    WORK=$(mktemp -d "/tmp/wirelog-$1.XXXXXX")
    PIDS=()
}
