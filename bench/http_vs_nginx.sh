#!/bin/sh
# twkit serve --proto http against nginx and h2o, side by side in one run
# (make bench-http). Each measurement gets a fresh network namespace with
# only loopback in it, so no run inherits another's TIME_WAIT sockets and
# the host's own sockets and sysctls are not touched; the server (one
# thread / one worker / h2o num-threads 1) runs on CPU 0 and the load
# generator on CPU 1.
#
#   bench/http_vs_nginx.sh [TWKIT_BINARY]
#   DURATION=4 CONNS=50 BODY=13 bench/http_vs_nginx.sh build/twkit
#   TWKIT_B=/tmp/twkit-old LABEL_B=old SERVERS="nginx twkit twkit-b" \
#       TESTS="wrk-ka wrk-close" ROUNDS=7 bench/http_vs_nginx.sh build/twkit
#
# Rows (TESTS, default all): wrk keep-alive (req/s), wrk -H "Connection:
# close" (conn/s), and twkit bench --proto http --close pool / abort /
# client-close; for each, the TIME_WAIT sockets on either side at the end
# of the run, the server's CPU per request, and the whole host's CPU per
# request (every process, softirq included, from /proc/stat). Columns
# (SERVERS): nginx (return 200), h2o (num-threads 1, a static file of the
# same body), twkit serve (LABEL_A), twkit serve --after-fin fin, twkit
# serve on its io_uring loop (TWKIT_LOOP=io_uring: twkit-uring), and a
# second twkit binary TWKIT_B (LABEL_B) with the flags of the first; and
# the ratios to nginx. Every cell runs ROUNDS times (default 7),
# interleaved, and the table shows the median and the spread (min-max).
# Then, for wrk-ka and wrk-close, STRACE_ROUNDS (default 3) short runs per
# server under strace -c -f (STRACE_SECONDS, default 2; 0: none) for the
# system calls per request; last, the issue's targets beside the ratios.
set -eu

TWKIT=${1:-build/twkit}
DURATION=${DURATION:-4}
CONNS=${CONNS:-50}
BODY=${BODY:-13}
ROUNDS=${ROUNDS:-7}
STRACE_SECONDS=${STRACE_SECONDS:-2}
STRACE_ROUNDS=${STRACE_ROUNDS:-3}
TWKIT_B=${TWKIT_B:-}
LABEL_A=${LABEL_A:-twkit}
LABEL_B=${LABEL_B:-twkit-B}
ALL_TESTS="wrk-ka wrk-close pool abort client-close"
TESTS=${TESTS:-$ALL_TESTS}
SERVERS=${SERVERS:-nginx h2o twkit twkit-uring twkit-fin${TWKIT_B:+ twkit-b}}
PORT=8080
NS=twkit-httpbench-$$
TMP=""

die() { echo "http_vs_nginx: $*" >&2; exit 1; }
# in_list WORD LIST
in_list() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }
whole() { case $1 in '' | *[!0-9]*) return 1 ;; esac; return 0; }

[ "$(id -u)" = 0 ] || die "needs root (network namespaces; apt-get for nginx, h2o, wrk and strace)"
[ -x "$TWKIT" ] || die "$TWKIT: not built (make)"
if ! whole "$ROUNDS" || [ "$ROUNDS" -lt 1 ]; then die "ROUNDS=$ROUNDS: a whole number, at least 1"; fi
whole "$STRACE_SECONDS" || die "STRACE_SECONDS=$STRACE_SECONDS: a whole number of seconds (0: no strace runs)"
if ! whole "$STRACE_ROUNDS" || [ "$STRACE_ROUNDS" -lt 1 ]; then
    die "STRACE_ROUNDS=$STRACE_ROUNDS: a whole number, at least 1"
fi
[ -z "$TWKIT_B" ] || [ -x "$TWKIT_B" ] || die "TWKIT_B=$TWKIT_B: not an executable"
seen=""
for s in $SERVERS; do
    case $s in
    nginx | h2o | twkit | twkit-uring | twkit-fin | twkit-rst) ;;
    twkit-b) [ -n "$TWKIT_B" ] || die "SERVERS has twkit-b but TWKIT_B is not set" ;;
    *) die "SERVERS: unknown server $s (nginx h2o twkit twkit-uring twkit-fin twkit-rst twkit-b)" ;;
    esac
    ! in_list "$s" "$seen" || die "SERVERS: $s twice"
    seen="$seen $s"
done
[ -n "$seen" ] || die "SERVERS is empty"
seen=""
for t in $TESTS; do
    in_list "$t" "$ALL_TESTS" || die "TESTS: unknown test $t ($ALL_TESTS)"
    ! in_list "$t" "$seen" || die "TESTS: $t twice"
    seen="$seen $t"
done
[ -n "$seen" ] || die "TESTS is empty"
# the strace runs: the wrk rows among TESTS
STRACE_TESTS=""
if [ "$STRACE_SECONDS" -gt 0 ]; then
    for t in $TESTS; do
        case $t in wrk-*) STRACE_TESTS="$STRACE_TESTS $t" ;; esac
    done
fi

need=""
if in_list nginx "$SERVERS" && ! command -v nginx >/dev/null; then need="$need nginx-light"; fi
if in_list h2o "$SERVERS" && ! command -v h2o >/dev/null; then need="$need h2o"; fi
if in_list wrk-ka "$TESTS" || in_list wrk-close "$TESTS"; then
    command -v wrk >/dev/null || need="$need wrk"
fi
if [ -n "$STRACE_TESTS" ] && ! command -v strace >/dev/null; then need="$need strace"; fi
if [ -n "$need" ]; then
    echo "http_vs_nginx: installing$need from Debian" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need >/dev/null ||
        die "apt-get install$need failed"
fi
PIN_SERVER="" PIN_CLIENT=""
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    PIN_SERVER="taskset -c 0" PIN_CLIENT="taskset -c 1"
fi

# SERVER_PID: what ip netns exec started (the server, or strace running
# it); TRACEE_PID: the server under strace; SERVER_KIDS: the processes the
# server started itself (h2o: its crash handler, a perl script that exits
# when h2o does)
SERVER_PID="" TRACEE_PID="" SERVER_KIDS=""
# the server's children are gone: they exit with it, else we end them
reap_kids() {
    for k in $SERVER_KIDS; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$k" 2>/dev/null || break
            sleep 0.1
        done
        kill "$k" 2>/dev/null || true
    done
    SERVER_KIDS=""
}
cleanup() {
    if [ -n "$TRACEE_PID" ]; then
        # strace writes its summary and exits when the server does
        kill "$TRACEE_PID" 2>/dev/null || true
    elif [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
    fi
    [ -z "$SERVER_PID" ] || wait "$SERVER_PID" 2>/dev/null || true
    reap_kids
    ip netns del "$NS" 2>/dev/null || true
    [ -z "$TMP" ] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
TMP=$(mktemp -d /tmp/twkit-httpbench.XXXXXX)

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
# h2o: one event-loop thread (num-threads 1: the main thread serves, a
# second one sleeps), the body as a static file, no access log, as root
# (user root: else it would switch to nobody, who cannot read $TMP)
mkdir -p "$TMP/h2o"
printf '%s' "$body" | tr -d '\n' > "$TMP/h2o/body"
echo >> "$TMP/h2o/body"
cat > "$TMP/h2o/h2o.conf" <<EOF
user: root
num-threads: 1
error-log: $TMP/h2o/error.log
listen:
  host: 127.0.0.1
  port: $PORT
hosts:
  default:
    paths:
      /:
        file.file: $TMP/h2o/body
        file.mime.setdefaulttype: text/plain
EOF

nsx() { ip netns exec "$NS" "$@"; }

server_label() {
    case $1 in
    nginx) echo nginx ;;
    h2o) echo h2o ;;
    twkit) echo "$LABEL_A" ;;
    twkit-uring) echo "$LABEL_A-uring" ;;
    twkit-fin) echo "$LABEL_A-fin" ;;
    twkit-rst) echo "$LABEL_A-rst" ;;
    twkit-b) echo "$LABEL_B" ;;
    esac
}
test_label() {
    case $1 in
    wrk-ka) echo "wrk keep-alive" ;;
    wrk-close) echo "wrk Connection: close" ;;
    pool) echo "twkit bench pool (keep-alive)" ;;
    abort) echo "twkit bench abort" ;;
    client-close) echo "twkit bench client-close" ;;
    esac
}
test_unit() { case $1 in wrk-ka | pool) echo "req/s" ;; *) echo "conn/s" ;; esac; }

# start_server SERVER [STRACE_FILE]: a fresh namespace and the server in
# it, under strace -c -f -o STRACE_FILE when one is given
start_server() {
    ss_key=$1 ss_trace=${2:-}
    ip netns del "$NS" 2>/dev/null || true
    ip netns add "$NS"
    nsx ip link set lo up
    case $ss_key in
    nginx) set -- nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/logs/error.log" ;;
    h2o) set -- h2o -c "$TMP/h2o/h2o.conf" ;;
    twkit) set -- "$TWKIT" serve --proto http --listen 127.0.0.1:$PORT --body-size "$BODY" ;;
    twkit-uring) set -- env TWKIT_LOOP=io_uring "$TWKIT" serve --proto http --listen 127.0.0.1:$PORT \
                     --body-size "$BODY" ;;
    twkit-fin) set -- "$TWKIT" serve --proto http --listen 127.0.0.1:$PORT --body-size "$BODY" \
                   --after-fin fin ;;
    twkit-rst) set -- "$TWKIT" serve --proto http --listen 127.0.0.1:$PORT --body-size "$BODY" \
                   --after-fin rst ;;
    twkit-b) set -- "$TWKIT_B" serve --proto http --listen 127.0.0.1:$PORT --body-size "$BODY" ;;
    esac
    [ -z "$ss_trace" ] || set -- strace -c -f -o "$ss_trace" "$@"
    # ip netns exec, taskset and strace exec what follows them: $! is the
    # server itself, or strace (whose child is the server)
    ip netns exec "$NS" $PIN_SERVER "$@" </dev/null >/dev/null 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do
        if nsx ss -Htln "sport = :$PORT" | grep -q .; then
            if [ -n "$ss_trace" ]; then
                TRACEE_PID=$(pgrep -P "$SERVER_PID" | head -n 1)
                [ -n "$TRACEE_PID" ] || die "$ss_key under strace: no server process"
            fi
            ss_pid=${TRACEE_PID:-$SERVER_PID}
            SERVER_KIDS=$(pgrep -P "$ss_pid" | tr '\n' ' ')
            if [ "$ss_key" = h2o ]; then
                # num-threads 1: the main thread serves, one more sleeps
                ss_threads=$(ls "/proc/$ss_pid/task" | wc -l)
                [ "$ss_threads" -le 2 ] || die "h2o runs $ss_threads threads, not 1 worker"
            fi
            return 0
        fi
        sleep 0.05
    done
    die "$ss_key did not start listening on 127.0.0.1:$PORT"
}

# SIGTERM to the server (not to strace, which would detach and leave it
# running), then wait for what we started: under strace that is strace,
# which writes its summary when the server has exited.
stop_server() {
    kill "${TRACEE_PID:-$SERVER_PID}" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID="" TRACEE_PID=""
    reap_kids
    ip netns del "$NS"
}

server_tw() { nsx ss -Htan state time-wait "sport = :$PORT" | wc -l; }
client_tw() { nsx ss -Htan state time-wait "dport = :$PORT" | wc -l; }

# CPU time of the server process so far (all its threads), in clock ticks
server_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
# CPU time of the whole host so far, every CPU, in clock ticks: user, nice,
# system, irq, softirq, steal (guest is in user already); not idle and
# iowait. On loopback the kernel does much of a connection's work (the
# TIME_WAIT sockets, their timers, the softirq of either side) outside the
# server's own account: this counts it wherever it ran, and everything
# else the host ran too.
host_ticks() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
# The same, robust to whatever else a busy host runs: the server's, the
# load generator's (client) and the kernel's softirq threads' CPU time.
# On loopback the softirq work of a segment runs in the sender's context
# (the server or the client), or in ksoftirqd when it is deferred.
KSOFTIRQD_STATS=$(for p in $(pgrep '^ksoftirqd/'); do echo "/proc/$p/stat"; done)
# shellcheck disable=SC2086 # one path per ksoftirqd thread
ksoftirqd_ticks() { awk '{s += $14 + $15} END {print s + 0}' $KSOFTIRQD_STATS; }

# client CMD...: CMD in the namespace on the load generator's CPU, its
# output as it is; the CPU time it used, in clock ticks, into
# $TMP/client-ticks (the cutime and cstime of the sh that waited for it)
client() {
    nsx $PIN_CLIENT sh -c '"$@"; r=$?; awk "{print \$16 + \$17}" /proc/$$/stat > "$0"; exit $r' \
        "$TMP/client-ticks" "$@"
}

# run_wrk TEST SECONDS: wrk's report on stdout
run_wrk() {
    case $1 in
    wrk-ka)    client wrk -t1 -c"$CONNS" -d"${2}s" http://127.0.0.1:$PORT/ ;;
    wrk-close) client wrk -t1 -c"$CONNS" -d"${2}s" -H "Connection: close" http://127.0.0.1:$PORT/ ;;
    esac
}
wrk_errors() { awk '/Socket errors|Non-2xx/ {e = e $0 "; "} END {print e}' "$1"; }

# measure SERVER TEST: sets RATE, CPU, HCPU (the host's), PCPU (server,
# client and ksoftirqd), TW (server side), CTW (client side) and ERRS. Not
# in a $(...) subshell: the EXIT trap would run there.
measure() {
    start_server "$1"
    out=$TMP/out
    ticks0=$(server_ticks) hticks0=$(host_ticks) kticks0=$(ksoftirqd_ticks)
    case $2 in
    wrk-*) run_wrk "$2" "$DURATION" > "$out" ;;
    *)     client "$TWKIT" bench --proto http --target 127.0.0.1:$PORT --close "$2" \
               --duration "${DURATION}s" --concurrency "$CONNS" --json --quiet > "$out" \
               2>"$TMP/err" || die "twkit bench: $(cat "$TMP/err")" ;;
    esac
    hticks=$(( $(host_ticks) - hticks0 ))
    kticks=$(( $(ksoftirqd_ticks) - kticks0 ))
    tw=$(server_tw) ctw=$(client_tw)
    ticks=$(( $(server_ticks) - ticks0 ))
    cticks=$(cat "$TMP/client-ticks")
    stop_server
    case $2 in
    wrk-*) rate=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$out")
           errs=$(wrk_errors "$out") ;;
    *)     rate=$(sed -n 's/.*"requests_per_s":\([0-9.]*\).*/\1/p' "$out" | cut -d. -f1)
           errs=$(sed -n 's/.*"errors":{"total":\([0-9]*\).*/\1/p' "$out")
           [ "$errs" = 0 ] && errs="" ;;
    esac
    RATE=${rate:-0} TW=$tw CTW=$ctw ERRS=$errs
    # server CPU, host CPU, and server + client + ksoftirqd CPU per
    # request, in microseconds
    CPU=$(per_request "$ticks")
    HCPU=$(per_request "$hticks")
    PCPU=$(per_request "$((ticks + cticks + kticks))")
}
# per_request TICKS: TICKS of CPU time per request of the run, in microseconds
per_request() {
    awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v r="$RATE" -v d="$DURATION" \
        'BEGIN { if (r > 0) printf "%.1f", t / hz * 1e6 / (r * d); else print "-" }'
}

# syscalls SERVER TEST ROUND: the server under strace -c -f for
# STRACE_SECONDS of wrk; its summary in $TMP/strace.TEST.SERVER.ROUND, the
# requests wrk completed appended to $TMP/strace-runs
syscalls() {
    sc_file=$TMP/strace.$2.$1.$3
    start_server "$1" "$sc_file"
    run_wrk "$2" "$STRACE_SECONDS" > "$TMP/out"
    stop_server
    reqs=$(awk '/ requests in / {print $1; exit}' "$TMP/out")
    printf '%s\t%s\t%s\t%s\t%s\n' "$2" "$1" "${reqs:-0}" "$sc_file" "$3" >> "$TMP/strace-runs"
    ERRS=$(wrk_errors "$TMP/out")
}

nginx_version="" h2o_version=""
if in_list nginx "$SERVERS"; then nginx_version=" $(nginx -v 2>&1 | sed 's/.*\///')"; fi
if in_list h2o "$SERVERS"; then h2o_version=" $(h2o --version 2>&1 | sed -n '1s/.*version //p')"; fi
echo "twkit serve --proto http vs nginx$nginx_version and h2o$h2o_version, loopback, 1 server thread,"
if [ "$ROUNDS" = 1 ]; then rounds_said="1 round"; else rounds_said="median (min–max) of $ROUNDS rounds"; fi
echo "load: $CONNS connections, 1 client thread, ${DURATION}s per run, body $BODY bytes; $rounds_said"

# the columns and rows, for the table
for s in $SERVERS; do printf '%s\t%s\n' "$s" "$(server_label "$s")"; done > "$TMP/columns"
for t in $TESTS; do printf '%s\t%s\t%s\n' "$t" "$(test_label "$t")" "$(test_unit "$t")"; done > "$TMP/rows"
: > "$TMP/results"
notes=""
# note SERVER TEST WHEN: ERRS, if any, into the notes
note() {
    [ -z "$ERRS" ] || notes="$notes  $(test_label "$2"), $(server_label "$1")$3: $ERRS
"
}

# Interleaved: every round runs every cell once, in table order.
round=1
while [ "$round" -le "$ROUNDS" ]; do
    [ "$ROUNDS" = 1 ] || echo "http_vs_nginx: round $round of $ROUNDS" >&2
    for t in $TESTS; do
        for s in $SERVERS; do
            measure "$s" "$t"
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$s" "$round" "$RATE" "$CPU" "$TW" \
                "$CTW" "$HCPU" "$PCPU" >> "$TMP/results"
            if [ "$ROUNDS" = 1 ]; then note "$s" "$t" ""; else note "$s" "$t" ", round $round"; fi
        done
    done
    round=$((round + 1))
done

if [ -n "$STRACE_TESTS" ]; then
    echo "http_vs_nginx: system calls, ${STRACE_SECONDS}s per server under strace, $STRACE_ROUNDS rounds" >&2
    : > "$TMP/strace-runs"
    round=1
    while [ "$round" -le "$STRACE_ROUNDS" ]; do
        for t in $STRACE_TESTS; do
            for s in $SERVERS; do
                syscalls "$s" "$t" "$round"
                note "$s" "$t" ", under strace"
            done
        done
        round=$((round + 1))
    done
fi

# The table: per row and column the median of the rounds, the spread as
# (min–max) beside it when the table fits in 120 columns, else on a line
# of its own below. Display widths count the en dash as one column, in
# mawk (bytes) as in gawk (characters).
awk -F '\t' -v rounds="$ROUNDS" -v maxw=120 '
function dw(s) { gsub(/–/, "-", s); return length(s) }
function lpad(s, w) { while (dw(s) < w) s = " " s; return s }
function rpad(s, w) { while (dw(s) < w) s = s " "; return s }
function max(a, b) { return a > b ? a : b }
function num(f, x) {
    if (f == 2 || f >= 5) return sprintf("%.1f", x)
    if (f == 1 || x == int(x)) return sprintf("%.0f", x)
    return sprintf("%.1f", x)
}
# stats of the values of key k: sets MED, LO, HI; 0 when there are none
function stats(k,    i, j, m, v, a) {
    m = cnt[k]
    if (m == 0) return 0
    for (i = 1; i <= m; i++) a[i] = val[k, i]
    for (i = 2; i <= m; i++) { v = a[i]; for (j = i - 1; j >= 1 && a[j] > v; j--) a[j + 1] = a[j]; a[j + 1] = v }
    MED = (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
    LO = a[1]; HI = a[m]
    return 1
}
FILENAME == ARGV[1] { ns++; key[ns] = $1; lab[ns] = $2; if ($1 == "nginx") ng = ns; next }
FILENAME == ARGV[2] { nt++; tk[nt] = $1; tl[nt] = $2; tu[nt] = $3; next }
{   # test server round rate cpu tw ctw hcpu pcpu; figures 1 rate, 2 cpu,
    # 3 tw, 4 ctw, 5 hcpu, 6 pcpu
    for (f = 1; f <= 6; f++) {
        v = $(3 + f)
        if (v !~ /^[0-9.]+$/) continue
        k = $1 SUBSEP $2 SUBSEP f
        val[k, ++cnt[k]] = v + 0
    }
}
END {
    order[1] = 1; order[2] = 3; order[3] = 4; order[4] = 2; order[5] = 5; order[6] = 6
    fname[1] = ""; fname[2] = "srv us/r"; fname[3] = "srv TW"; fname[4] = "cli TW"
    fname[5] = "host us/r"; fname[6] = "s+c+si us/r"
    w0 = 0; w1 = 11
    for (i = 1; i <= nt; i++) { w0 = max(w0, dw(tl[i])); w1 = max(w1, dw(tu[i])) }
    for (s = 1; s <= ns; s++) { wi[s] = wl[s] = dw(lab[s]); rh[s] = lab[s] "/ng"; rw[s] = max(8, dw(rh[s])) }
    for (i = 1; i <= nt; i++) for (f = 1; f <= 6; f++) {
        for (s = 1; s <= ns; s++) {
            c = i SUBSEP f SUBSEP s
            if (stats(tk[i] SUBSEP key[s] SUBSEP f)) {
                med[c] = num(f, MED); spr[c] = rounds > 1 ? "(" num(f, LO) "–" num(f, HI) ")" : ""
                have[c] = 1; mv[c] = MED
            } else { med[c] = "-"; spr[c] = "" }
            wl[s] = max(wl[s], max(dw(med[c]), dw(spr[c])))
            wi[s] = max(wi[s], dw(spr[c] == "" ? med[c] : med[c] " " spr[c]))
        }
        if (!ng || (f != 1 && f != 2 && f < 5)) continue
        for (s = 1; s <= ns; s++) {
            if (s == ng) continue
            c = i SUBSEP f SUBSEP s; n = i SUBSEP f SUBSEP ng
            rat[c] = (have[c] && have[n] && mv[n] > 0) ? sprintf("%.2f", mv[c] / mv[n]) : "-"
            rw[s] = max(rw[s], dw(rat[c]))
        }
    }
    total = w0 + 1 + w1
    for (s = 1; s <= ns; s++) { total += 1 + wi[s]; if (ng && s != ng) total += 1 + rw[s] }
    inline = (rounds == 1 || total <= maxw)
    for (s = 1; s <= ns; s++) w[s] = inline ? wi[s] : wl[s]

    line = rpad("", w0) " " lpad("", w1)
    for (s = 1; s <= ns; s++) line = line " " lpad(lab[s], w[s])
    if (ng) for (s = 1; s <= ns; s++) if (s != ng) line = line " " lpad(rh[s], rw[s])
    print ""; print line
    for (i = 1; i <= nt; i++) for (j = 1; j <= 6; j++) {
        f = order[j]
        line = rpad(f == 1 ? tl[i] : "", w0) " " lpad(f == 1 ? tu[i] : fname[f], w1)
        for (s = 1; s <= ns; s++) {
            c = i SUBSEP f SUBSEP s
            line = line " " lpad(inline && spr[c] != "" ? med[c] " " spr[c] : med[c], w[s])
        }
        if (ng && (f == 1 || f == 2 || f >= 5))
            for (s = 1; s <= ns; s++) if (s != ng) line = line " " lpad(rat[i SUBSEP f SUBSEP s], rw[s])
        sub(/ +$/, "", line); print line
        if (inline) continue
        line = rpad("", w0) " " lpad("", w1)
        for (s = 1; s <= ns; s++) line = line " " lpad(spr[i SUBSEP f SUBSEP s], w[s])
        sub(/ +$/, "", line); print line
    }
}' "$TMP/columns" "$TMP/rows" "$TMP/results"

# System calls per request: strace -c -f summaries (rows between the two
# dashed lines: % time, seconds, usecs/call, calls, [errors,] syscall)
if [ -n "$STRACE_TESTS" ]; then
    for t in $STRACE_TESTS; do printf '%s\t%s\n' "$t" "$(test_label "$t")"; done > "$TMP/strace-rows"
    awk -F '\t' -v secs="$STRACE_SECONDS" -v rounds="$STRACE_ROUNDS" '
function dw(s) { gsub(/–/, "-", s); return length(s) }
function lpad(s, w) { while (dw(s) < w) s = " " s; return s }
function rpad(s, w) { while (dw(s) < w) s = s " "; return s }
function max(a, b) { return a > b ? a : b }
# the median (min–max) of the per-run values of key k, "-" if none
function cell(k,    i, j, m, v, a, med) {
    m = pc[k]
    if (!m) return "-"
    for (i = 1; i <= m; i++) a[i] = pv[k, i]
    for (i = 2; i <= m; i++) { v = a[i]; for (j = i - 1; j >= 1 && a[j] > v; j--) a[j + 1] = a[j]; a[j + 1] = v }
    med = (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
    return sprintf("%.2f", med) (m > 1 ? sprintf(" (%.2f–%.2f)", a[1], a[m]) : "")
}
FILENAME == ARGV[1] { ns++; key[ns] = $1; lab[ns] = $2; next }
FILENAME == ARGV[2] { nt++; tk[nt] = $1; tl[nt] = $2; next }
{   # test server requests file round; the top 5 are of the first round
    k = $1 SUBSEP $2; t = 0; nsc = 0; dashes = 0
    while ((getline l < $4) > 0) {
        if (l ~ /^-----/) { dashes++; continue }
        if (dashes != 1) continue
        m = split(l, a, " ")
        if (m < 5) continue
        t += a[4]; nsc++; name[nsc] = a[m]; calls[nsc] = a[4] + 0
    }
    close($4)
    if (nsc > 0 && $3 > 0) pv[k, ++pc[k]] = t / $3
    if (k in top) next
    req[k] = $3 + 0; total[k] = t
    got[k] = nsc > 0
    top[k] = ""
    for (r = 1; r <= 5 && r <= nsc; r++) {
        b = r
        for (i = r + 1; i <= nsc; i++) if (calls[i] > calls[b]) b = i
        x = name[r]; name[r] = name[b]; name[b] = x
        x = calls[r]; calls[r] = calls[b]; calls[b] = x
        top[k] = top[k] (r > 1 ? ", " : "") name[r] " " (req[k] > 0 ? sprintf("%.2f", calls[r] / req[k]) : calls[r])
    }
}
END {
    w0 = 0
    for (i = 1; i <= nt; i++) w0 = max(w0, length(tl[i]))
    for (s = 1; s <= ns; s++) {
        w[s] = max(8, dw(lab[s]))
        for (i = 1; i <= nt; i++) { c[i, s] = cell(tk[i] SUBSEP key[s]); w[s] = max(w[s], dw(c[i, s])) }
    }
    line = rpad("", w0) " " lpad("", 9)
    for (s = 1; s <= ns; s++) line = line " " lpad(lab[s], w[s])
    print ""
    print "system calls per request, the server under strace -c -f for " secs "s of wrk (rates meaningless);"
    print (rounds > 1 ? "median (min–max) of " rounds " rounds:" : "1 round:")
    print line
    for (i = 1; i <= nt; i++) {
        line = rpad(tl[i], w0) " " lpad("calls/req", 9)
        for (s = 1; s <= ns; s++) line = line " " lpad(c[i, s], w[s])
        print line
    }
    print "top 5 by count, calls per request" (rounds > 1 ? " (the first round)" : "") ":"
    for (i = 1; i <= nt; i++) for (s = 1; s <= ns; s++) {
        k = tk[i] SUBSEP key[s]
        print "  " tl[i] ", " lab[s] " (" req[k] " requests, " total[k] " calls): " (got[k] ? top[k] : "no strace summary")
    }
}' "$TMP/columns" "$TMP/strace-rows" "$TMP/strace-runs"
fi

# The targets of issue 26, each beside its ratio of the medians above:
# keep-alive server CPU per request at most 0.8 nginx's and 1.0 h2o's;
# Connection: close whole-host CPU per connection at most nginx's, with no
# TIME_WAIT on the server's side (in any round).
awk -F '\t' -v a="$LABEL_A" '
function med(k,    i, j, m, v, x) {
    m = cnt[k]
    for (i = 1; i <= m; i++) x[i] = val[k, i]
    for (i = 2; i <= m; i++) { v = x[i]; for (j = i - 1; j >= 1 && x[j] > v; j--) x[j + 1] = x[j]; x[j + 1] = v }
    return (m % 2) ? x[(m + 1) / 2] : (x[m / 2] + x[m / 2 + 1]) / 2
}
# ratio SERVER LABEL TEST FIELD OTHER MAX WHAT: SERVER (a twkit column) over
# OTHER, the target at most MAX
function ratio(sv, sl, t, f, o, lim, what,    k, ko, r) {
    k = t SUBSEP sv SUBSEP f; ko = t SUBSEP o SUBSEP f
    if (!cnt[k] || !cnt[ko] || med(ko) <= 0) return
    r = med(k) / med(ko)
    printf "  %-44s %s/%s %5.2f   target ≤ %.1f: %s\n", what, sl, o, r, lim, r <= lim ? "met" : "NOT met"
    any = 1
}
{   # test server round rate cpu tw ctw hcpu pcpu
    if ($5 ~ /^[0-9.]+$/) { k = $1 SUBSEP $2 SUBSEP "cpu"; val[k, ++cnt[k]] = $5 }
    if ($8 ~ /^[0-9.]+$/) { k = $1 SUBSEP $2 SUBSEP "hcpu"; val[k, ++cnt[k]] = $8 }
    if ($9 ~ /^[0-9.]+$/) { k = $1 SUBSEP $2 SUBSEP "pcpu"; val[k, ++cnt[k]] = $9 }
    if ($1 == "wrk-close" && $2 ~ /^twkit(-uring)?$/) { tw_on[$2] = 1; if ($6 + 0 > tw_max) tw_max = $6 + 0 }
}
END {
    print ""
    print "targets (issue 26; ratios of the medians above):"
    for (i = 1; i <= 2; i++) {
        sv = i == 1 ? "twkit" : "twkit-uring"; sl = i == 1 ? a : a "-uring"
        ratio(sv, sl, "wrk-ka", "cpu", "nginx", 0.8, "wrk keep-alive, server CPU per request")
        ratio(sv, sl, "wrk-ka", "cpu", "h2o", 1.0, "wrk keep-alive, server CPU per request")
        ratio(sv, sl, "wrk-close", "hcpu", "nginx", 1.0, "wrk Connection: close, host CPU per conn")
        ratio(sv, sl, "wrk-close", "pcpu", "nginx", 1.0, "  the same, server + client + ksoftirqd")
    }
    tw_lab = ("twkit" in tw_on ? a : "") ("twkit" in tw_on && "twkit-uring" in tw_on ? ", " : "") \
             ("twkit-uring" in tw_on ? a "-uring" : "")
    if (tw_lab != "") {
        printf "  %-44s %s, most of any round: %d   target 0: %s\n", "wrk Connection: close, server TIME_WAIT", tw_lab,
               tw_max, tw_max == 0 ? "met" : "NOT met"
        any = 1
    }
    if (!any) print "  (none measured: they need wrk-ka or wrk-close, twkit, and nginx or h2o)"
}' "$TMP/results"

flags="serve --proto http --listen 127.0.0.1:$PORT --body-size $BODY"
echo
if [ "$ROUNDS" = 1 ]; then
    echo "Figures: one round, no spread (ROUNDS=1)."
else
    echo "Figures: the median of $ROUNDS rounds (of an even number: the mean of the two middle ones),"
    echo "  and its spread over the rounds as (min–max). The rounds ran interleaved, each one every"
    echo "  cell in table order, so drift over the run hits every column alike. Ratios: of the medians."
fi
echo "wrk keep-alive: wrk -t1 -c$CONNS; wrk Connection: close: the same with -H \"Connection: close\","
echo "  a connection per request; twkit bench X: $TWKIT bench --proto http --close X"
echo "  --concurrency $CONNS (the load generator for every column)."
echo "srv TW, cli TW: TIME_WAIT sockets on the server's side and on the load generator's"
echo "  side of the connections when the run ended."
echo "srv us/r: server CPU (user + system, all its threads) per request or connection, in"
echo "  microseconds: the load generator is the bottleneck in most rows, so this is the server's"
echo "  own cost."
echo "host us/r: the whole host's CPU (/proc/stat: user, nice, system, irq, softirq, steal; every"
echo "  process, the load generator's and the kernel's TIME_WAIT work included) per request or"
echo "  connection, in microseconds; whatever else the host ran meanwhile is in it too."
echo "s+c+si us/r: the server's, the load generator's and the ksoftirqd threads' CPU per request"
echo "  or connection, in microseconds: the host's figure without the rest of a busy host (on"
echo "  loopback a segment's softirq work runs in its sender's context, or in ksoftirqd)."
echo "Columns, by the flags each server ran with, FLAGS standing for"
echo "  $flags:"
if in_list nginx "$SERVERS"; then
    echo "  nginx: nginx$nginx_version, worker_processes 1, master_process off, access_log off, return 200."
fi
if in_list h2o "$SERVERS"; then
    echo "  h2o: h2o$h2o_version, num-threads 1, no access log, the same body as a static file"
    echo "    (file.file); it closes first after Connection: close, so that TIME_WAIT is its own."
fi
if in_list twkit "$SERVERS"; then
    echo "  $LABEL_A: $TWKIT FLAGS, no --after-fin (the binary's default)."
fi
if in_list twkit-uring "$SERVERS"; then
    echo "  $LABEL_A-uring: TWKIT_LOOP=io_uring $TWKIT FLAGS: the same server on the io_uring loop"
    echo "    (multishot accept and receive into provided buffers)."
fi
if in_list twkit-fin "$SERVERS"; then
    echo "  $LABEL_A-fin: $TWKIT FLAGS --after-fin fin: the client's FIN is answered"
    echo "    with FIN, a classic passive close: the client holds TIME_WAIT."
fi
if in_list twkit-rst "$SERVERS"; then
    echo "  $LABEL_A-rst: $TWKIT FLAGS --after-fin rst (opt-in): a client that closed after it had"
    echo "    everything gets an RST for its FIN; nobody holds TIME_WAIT."
fi
if in_list twkit-b "$SERVERS"; then
    echo "  $LABEL_B: $TWKIT_B FLAGS, the flags of $LABEL_A."
fi
set -- $SERVERS
if in_list nginx "$SERVERS" && [ $# -gt 1 ]; then
    echo "  X/ng: the column's median over nginx's."
fi
if [ -n "$STRACE_TESTS" ]; then
    echo "calls/req: every system call of the server process from its start to its exit (strace -c -f)"
    echo "  over the requests wrk completed; a few hundred calls are the start and the exit."
    echo "  STRACE_ROUNDS=$STRACE_ROUNDS runs per cell, interleaved like the rounds above."
fi
[ -z "$notes" ] || printf 'errors:\n%s' "$notes"
