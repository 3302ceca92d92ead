#!/bin/sh
# twkit serve --proto http against nginx, side by side in one run
# (make bench-http). Each measurement gets a fresh network namespace with
# only loopback in it, so no run inherits another's TIME_WAIT sockets and
# the host's own sockets and sysctls are not touched; the server (one
# thread / one worker) runs on CPU 0 and the load generator on CPU 1.
#
#   bench/http_vs_nginx.sh [TWKIT_BINARY]
#   DURATION=4 CONNS=50 BODY=13 bench/http_vs_nginx.sh build/twkit
#
# Rows: wrk keep-alive (req/s), wrk -H "Connection: close" (conn/s), and
# twkit bench --proto http --close pool / abort / client-close; for each,
# the server-side TIME_WAIT sockets at the end of the run. Columns: nginx,
# twkit serve (after the client's FIN an RST, its HTTP default), twkit serve
# --after-fin fin (a classic passive close), and the ratios to nginx.
set -eu

TWKIT=${1:-build/twkit}
DURATION=${DURATION:-4}
CONNS=${CONNS:-50}
BODY=${BODY:-13}
PORT=8080
NS=twkit-httpbench-$$
TMP=$(mktemp -d /tmp/twkit-httpbench.XXXXXX)

die() { echo "http_vs_nginx: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces; apt-get for nginx and wrk)"
[ -x "$TWKIT" ] || die "$TWKIT: not built (make)"
need=""
command -v nginx >/dev/null || need="$need nginx-light"
command -v wrk >/dev/null || need="$need wrk"
if [ -n "$need" ]; then
    echo "http_vs_nginx: installing$need from Debian" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need >/dev/null ||
        die "apt-get install$need failed"
fi
PIN_SERVER="" PIN_CLIENT=""
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    PIN_SERVER="taskset -c 0" PIN_CLIENT="taskset -c 1"
fi

SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# The same body from both servers.
body=$(printf 'hello, twkit\n' | head -c "$BODY")
[ "$BODY" -le 13 ] || body=$(head -c "$((BODY - 1))" /dev/zero | tr '\0' 'h'; echo)
mkdir -p "$TMP/nginx/logs"
cat > "$TMP/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log;
events { worker_connections 10000; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx;
    server {
        listen 127.0.0.1:$PORT backlog=4096;
        location = / { default_type text/plain; return 200 "$(printf '%s' "$body" | tr -d '\n')\n"; }
    }
}
EOF

nsx() { ip netns exec "$NS" "$@"; }

# start_server nginx|twkit|twkit-fin: a fresh namespace and the server in it
start_server() {
    ip netns del "$NS" 2>/dev/null || true
    ip netns add "$NS"
    nsx ip link set lo up
    # ip netns exec and taskset exec the server: $! is the server itself
    case $1 in
    nginx) ip netns exec "$NS" $PIN_SERVER nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" \
               -e "$TMP/nginx/logs/error.log" </dev/null >/dev/null 2>&1 & ;;
    twkit) ip netns exec "$NS" $PIN_SERVER "$TWKIT" serve --proto http --listen 127.0.0.1:$PORT \
               --body-size "$BODY" </dev/null >/dev/null 2>&1 & ;;
    twkit-fin) ip netns exec "$NS" $PIN_SERVER "$TWKIT" serve --proto http --listen 127.0.0.1:$PORT \
               --body-size "$BODY" --after-fin fin </dev/null >/dev/null 2>&1 & ;;
    esac
    SERVER_PID=$!
    for _ in $(seq 100); do
        nsx ss -Htln "sport = :$PORT" | grep -q . && return 0
        sleep 0.05
    done
    die "$1 did not start listening on 127.0.0.1:$PORT"
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    ip netns del "$NS"
}

server_tw() { nsx ss -Htan state time-wait "sport = :$PORT" | wc -l; }
client_tw() { nsx ss -Htan state time-wait "dport = :$PORT" | wc -l; }

# CPU time of the server process so far, in clock ticks
server_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }

# measure SERVER TEST: sets RATE, TW (server side) and ERRS. Not in a
# $(...) subshell: the EXIT trap would run there.
measure() {
    start_server "$1"
    out=$TMP/out
    ticks0=$(server_ticks)
    case $2 in
    wrk-ka)    nsx $PIN_CLIENT wrk -t1 -c"$CONNS" -d"${DURATION}s" http://127.0.0.1:$PORT/ > "$out" ;;
    wrk-close) nsx $PIN_CLIENT wrk -t1 -c"$CONNS" -d"${DURATION}s" -H "Connection: close" http://127.0.0.1:$PORT/ > "$out" ;;
    *)         nsx $PIN_CLIENT "$TWKIT" bench --proto http --target 127.0.0.1:$PORT --close "$2" \
                   --duration "${DURATION}s" --concurrency "$CONNS" --json --quiet > "$out" \
                   2>"$TMP/err" || die "twkit bench: $(cat "$TMP/err")" ;;
    esac
    tw=$(server_tw) ctw=$(client_tw)
    ticks=$(( $(server_ticks) - ticks0 ))
    stop_server
    case $2 in
    wrk-*) rate=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$out")
           errs=$(awk '/Socket errors|Non-2xx/ {e = e $0 "; "} END {print e}' "$out") ;;
    *)     rate=$(sed -n 's/.*"requests_per_s":\([0-9.]*\).*/\1/p' "$out" | cut -d. -f1)
           errs=$(sed -n 's/.*"errors":{"total":\([0-9]*\).*/\1/p' "$out")
           [ "$errs" = 0 ] && errs="" ;;
    esac
    RATE=${rate:-0} TW=$tw CTW=$ctw ERRS=$errs
    # server CPU per request, in microseconds
    CPU=$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v r="$RATE" -v d="$DURATION" \
          'BEGIN { if (r > 0) printf "%.1f", t / hz * 1e6 / (r * d); else print "-" }')
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

echo "twkit serve --proto http vs nginx $(nginx -v 2>&1 | sed 's/.*\///'), loopback, 1 server thread, "
echo "load: $CONNS connections, 1 client thread, ${DURATION}s per run, body $BODY bytes"
printf '\n%-30s %8s %10s %10s %12s %8s %8s\n' "" "" nginx twkit twkit-fin twkit/ng fin/ng
notes=""
for t in wrk-ka wrk-close pool abort client-close; do
    measure nginx $t; n_rate=$RATE n_tw=$TW n_ctw=$CTW n_err=$ERRS n_cpu=$CPU
    measure twkit $t; t_rate=$RATE t_tw=$TW t_ctw=$CTW t_err=$ERRS t_cpu=$CPU
    measure twkit-fin $t; r_rate=$RATE r_tw=$TW r_ctw=$CTW r_err=$ERRS r_cpu=$CPU
    case $t in
    wrk-ka) label="wrk keep-alive" unit="req/s" ;;
    wrk-close) label="wrk Connection: close" unit="conn/s" ;;
    pool) label="twkit bench pool (keep-alive)" unit="req/s" ;;
    abort) label="twkit bench abort" unit="conn/s" ;;
    client-close) label="twkit bench client-close" unit="conn/s" ;;
    esac
    printf '%-30s %8s %10s %10s %12s %8s %8s\n' "$label" "$unit" "$n_rate" "$t_rate" "$r_rate" \
        "$(ratio "$t_rate" "$n_rate")" "$(ratio "$r_rate" "$n_rate")"
    printf '%-30s %8s %10s %10s %12s\n' "" "srv TW" "$n_tw" "$t_tw" "$r_tw"
    printf '%-30s %8s %10s %10s %12s\n' "" "cli TW" "$n_ctw" "$t_ctw" "$r_ctw"
    printf '%-30s %8s %10s %10s %12s %8s %8s\n' "" "srv us/r" "$n_cpu" "$t_cpu" "$r_cpu" \
        "$(ratio "$t_cpu" "$n_cpu")" "$(ratio "$r_cpu" "$n_cpu")"
    for e in "nginx:$n_err" "twkit:$t_err" "twkit-fin:$r_err"; do
        [ -z "${e#*:}" ] || notes="$notes  $label, ${e%%:*}: ${e#*:}
"
    done
done
echo
echo "srv TW, cli TW: TIME_WAIT sockets on the server's side and on the load generator's"
echo "  side of the connections when the run ended."
echo "srv us/r: server CPU (user + system) per request or connection, in microseconds:"
echo "  the load generator is the bottleneck in most rows, so this is the server's own cost."
echo "twkit: after the client's FIN an RST (its HTTP default): nobody holds TIME_WAIT."
echo "twkit-fin: twkit serve --after-fin fin: a classic passive close, the client holds TIME_WAIT."
[ -z "$notes" ] || printf 'errors:\n%s' "$notes"
