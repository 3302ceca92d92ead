#!/bin/sh
# twkit serve --proto http against nginx, side by side in one run
# (make bench-http). Each measurement gets a fresh network namespace with
# only loopback in it, so no run inherits another's TIME_WAIT sockets and
# the host's own sockets and sysctls are not touched; the server (one
# thread / one worker) runs on CPU 0 and the load generator on CPU 1.
#
#   bench/http_vs_nginx.sh [TWKIT_BINARY]
#   DURATION=4 CONNS=50 BODY=13 bench/http_vs_nginx.sh build/twkit
#   TWKIT_B=/tmp/twkit-old LABEL_B=old SERVERS="nginx twkit twkit-b" \
#       TESTS="wrk-ka wrk-close" ROUNDS=7 bench/http_vs_nginx.sh build/twkit
#
# Rows (TESTS, default all): wrk keep-alive (req/s), wrk -H "Connection:
# close" (conn/s), and twkit bench --proto http --close pool / abort /
# client-close; for each, the TIME_WAIT sockets on either side at the end
# of the run and the server's CPU per request. Columns (SERVERS): nginx,
# twkit serve (LABEL_A), twkit serve --after-fin fin, and a second twkit
# binary TWKIT_B (LABEL_B) with the flags of the first; and the ratios to
# nginx. Every cell runs ROUNDS times (default 5), interleaved, and the
# table shows the median and the spread (min-max). Then, for wrk-ka and
# wrk-close, one short run per server under strace -c -f (STRACE_SECONDS,
# default 2; 0: none) for the system calls per request.
set -eu

TWKIT=${1:-build/twkit}
DURATION=${DURATION:-4}
CONNS=${CONNS:-50}
BODY=${BODY:-13}
ROUNDS=${ROUNDS:-5}
STRACE_SECONDS=${STRACE_SECONDS:-2}
TWKIT_B=${TWKIT_B:-}
LABEL_A=${LABEL_A:-twkit}
LABEL_B=${LABEL_B:-twkit-B}
ALL_TESTS="wrk-ka wrk-close pool abort client-close"
TESTS=${TESTS:-$ALL_TESTS}
SERVERS=${SERVERS:-nginx twkit twkit-fin${TWKIT_B:+ twkit-b}}
PORT=8080
NS=twkit-httpbench-$$
TMP=""

die() { echo "http_vs_nginx: $*" >&2; exit 1; }
# in_list WORD LIST
in_list() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }
whole() { case $1 in '' | *[!0-9]*) return 1 ;; esac; return 0; }

[ "$(id -u)" = 0 ] || die "needs root (network namespaces; apt-get for nginx, wrk and strace)"
[ -x "$TWKIT" ] || die "$TWKIT: not built (make)"
if ! whole "$ROUNDS" || [ "$ROUNDS" -lt 1 ]; then die "ROUNDS=$ROUNDS: a whole number, at least 1"; fi
whole "$STRACE_SECONDS" || die "STRACE_SECONDS=$STRACE_SECONDS: a whole number of seconds (0: no strace runs)"
[ -z "$TWKIT_B" ] || [ -x "$TWKIT_B" ] || die "TWKIT_B=$TWKIT_B: not an executable"
seen=""
for s in $SERVERS; do
    case $s in
    nginx | twkit | twkit-fin) ;;
    twkit-b) [ -n "$TWKIT_B" ] || die "SERVERS has twkit-b but TWKIT_B is not set" ;;
    *) die "SERVERS: unknown server $s (nginx twkit twkit-fin twkit-b)" ;;
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
# it); TRACEE_PID: the server under strace
SERVER_PID="" TRACEE_PID=""
cleanup() {
    if [ -n "$TRACEE_PID" ]; then
        # strace writes its summary and exits when the server does
        kill "$TRACEE_PID" 2>/dev/null || true
    elif [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
    fi
    [ -z "$SERVER_PID" ] || wait "$SERVER_PID" 2>/dev/null || true
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

nsx() { ip netns exec "$NS" "$@"; }

server_label() {
    case $1 in
    nginx) echo nginx ;;
    twkit) echo "$LABEL_A" ;;
    twkit-fin) echo "$LABEL_A-fin" ;;
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
    twkit) set -- "$TWKIT" serve --proto http --listen 127.0.0.1:$PORT --body-size "$BODY" ;;
    twkit-fin) set -- "$TWKIT" serve --proto http --listen 127.0.0.1:$PORT --body-size "$BODY" \
                   --after-fin fin ;;
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
    ip netns del "$NS"
}

server_tw() { nsx ss -Htan state time-wait "sport = :$PORT" | wc -l; }
client_tw() { nsx ss -Htan state time-wait "dport = :$PORT" | wc -l; }

# CPU time of the server process so far, in clock ticks
server_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }

# run_wrk TEST SECONDS: wrk's report on stdout
run_wrk() {
    case $1 in
    wrk-ka)    nsx $PIN_CLIENT wrk -t1 -c"$CONNS" -d"${2}s" http://127.0.0.1:$PORT/ ;;
    wrk-close) nsx $PIN_CLIENT wrk -t1 -c"$CONNS" -d"${2}s" -H "Connection: close" http://127.0.0.1:$PORT/ ;;
    esac
}
wrk_errors() { awk '/Socket errors|Non-2xx/ {e = e $0 "; "} END {print e}' "$1"; }

# measure SERVER TEST: sets RATE, CPU, TW (server side), CTW (client side)
# and ERRS. Not in a $(...) subshell: the EXIT trap would run there.
measure() {
    start_server "$1"
    out=$TMP/out
    ticks0=$(server_ticks)
    case $2 in
    wrk-*) run_wrk "$2" "$DURATION" > "$out" ;;
    *)     nsx $PIN_CLIENT "$TWKIT" bench --proto http --target 127.0.0.1:$PORT --close "$2" \
               --duration "${DURATION}s" --concurrency "$CONNS" --json --quiet > "$out" \
               2>"$TMP/err" || die "twkit bench: $(cat "$TMP/err")" ;;
    esac
    tw=$(server_tw) ctw=$(client_tw)
    ticks=$(( $(server_ticks) - ticks0 ))
    stop_server
    case $2 in
    wrk-*) rate=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$out")
           errs=$(wrk_errors "$out") ;;
    *)     rate=$(sed -n 's/.*"requests_per_s":\([0-9.]*\).*/\1/p' "$out" | cut -d. -f1)
           errs=$(sed -n 's/.*"errors":{"total":\([0-9]*\).*/\1/p' "$out")
           [ "$errs" = 0 ] && errs="" ;;
    esac
    RATE=${rate:-0} TW=$tw CTW=$ctw ERRS=$errs
    # server CPU per request, in microseconds
    CPU=$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v r="$RATE" -v d="$DURATION" \
          'BEGIN { if (r > 0) printf "%.1f", t / hz * 1e6 / (r * d); else print "-" }')
}

# syscalls SERVER TEST: the server under strace -c -f for STRACE_SECONDS of
# wrk; its summary in $TMP/strace.TEST.SERVER, the requests wrk completed
# appended to $TMP/strace-runs
syscalls() {
    sc_file=$TMP/strace.$2.$1
    start_server "$1" "$sc_file"
    run_wrk "$2" "$STRACE_SECONDS" > "$TMP/out"
    stop_server
    reqs=$(awk '/ requests in / {print $1; exit}' "$TMP/out")
    printf '%s\t%s\t%s\t%s\n' "$2" "$1" "${reqs:-0}" "$sc_file" >> "$TMP/strace-runs"
    ERRS=$(wrk_errors "$TMP/out")
}

nginx_version=""
if in_list nginx "$SERVERS"; then nginx_version=" $(nginx -v 2>&1 | sed 's/.*\///')"; fi
echo "twkit serve --proto http vs nginx$nginx_version, loopback, 1 server thread,"
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
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$s" "$round" "$RATE" "$CPU" "$TW" "$CTW" \
                >> "$TMP/results"
            if [ "$ROUNDS" = 1 ]; then note "$s" "$t" ""; else note "$s" "$t" ", round $round"; fi
        done
    done
    round=$((round + 1))
done

if [ -n "$STRACE_TESTS" ]; then
    echo "http_vs_nginx: system calls, ${STRACE_SECONDS}s per server under strace" >&2
    : > "$TMP/strace-runs"
    for t in $STRACE_TESTS; do
        for s in $SERVERS; do
            syscalls "$s" "$t"
            note "$s" "$t" ", under strace"
        done
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
    if (f == 2) return sprintf("%.1f", x)
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
{   # test server round rate cpu tw ctw; figures 1 rate, 2 cpu, 3 tw, 4 ctw
    for (f = 1; f <= 4; f++) {
        v = $(3 + f)
        if (v !~ /^[0-9.]+$/) continue
        k = $1 SUBSEP $2 SUBSEP f
        val[k, ++cnt[k]] = v + 0
    }
}
END {
    order[1] = 1; order[2] = 3; order[3] = 4; order[4] = 2
    fname[1] = ""; fname[2] = "srv us/r"; fname[3] = "srv TW"; fname[4] = "cli TW"
    w0 = 0; w1 = 8
    for (i = 1; i <= nt; i++) { w0 = max(w0, dw(tl[i])); w1 = max(w1, dw(tu[i])) }
    for (s = 1; s <= ns; s++) { wi[s] = wl[s] = dw(lab[s]); rh[s] = lab[s] "/ng"; rw[s] = max(8, dw(rh[s])) }
    for (i = 1; i <= nt; i++) for (f = 1; f <= 4; f++) {
        for (s = 1; s <= ns; s++) {
            c = i SUBSEP f SUBSEP s
            if (stats(tk[i] SUBSEP key[s] SUBSEP f)) {
                med[c] = num(f, MED); spr[c] = rounds > 1 ? "(" num(f, LO) "–" num(f, HI) ")" : ""
                have[c] = 1; mv[c] = MED
            } else { med[c] = "-"; spr[c] = "" }
            wl[s] = max(wl[s], max(dw(med[c]), dw(spr[c])))
            wi[s] = max(wi[s], dw(spr[c] == "" ? med[c] : med[c] " " spr[c]))
        }
        if (!ng || (f != 1 && f != 2)) continue
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
    for (i = 1; i <= nt; i++) for (j = 1; j <= 4; j++) {
        f = order[j]
        line = rpad(f == 1 ? tl[i] : "", w0) " " lpad(f == 1 ? tu[i] : fname[f], w1)
        for (s = 1; s <= ns; s++) {
            c = i SUBSEP f SUBSEP s
            line = line " " lpad(inline && spr[c] != "" ? med[c] " " spr[c] : med[c], w[s])
        }
        if (ng && (f == 1 || f == 2))
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
    awk -F '\t' -v secs="$STRACE_SECONDS" '
function lpad(s, w) { while (length(s) < w) s = " " s; return s }
function rpad(s, w) { while (length(s) < w) s = s " "; return s }
function max(a, b) { return a > b ? a : b }
FILENAME == ARGV[1] { ns++; key[ns] = $1; lab[ns] = $2; next }
FILENAME == ARGV[2] { nt++; tk[nt] = $1; tl[nt] = $2; next }
{   # test server requests file
    k = $1 SUBSEP $2; req[k] = $3 + 0; total[k] = 0; nsc = 0; dashes = 0
    while ((getline l < $4) > 0) {
        if (l ~ /^-----/) { dashes++; continue }
        if (dashes != 1) continue
        m = split(l, a, " ")
        if (m < 5) continue
        total[k] += a[4]; nsc++; name[nsc] = a[m]; calls[nsc] = a[4] + 0
    }
    close($4)
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
    line = rpad("", w0) " " lpad("", 9)
    for (s = 1; s <= ns; s++) { w[s] = max(8, length(lab[s])); line = line " " lpad(lab[s], w[s]) }
    print ""
    print "system calls per request, the server under strace -c -f for " secs "s of wrk (rates meaningless):"
    print line
    for (i = 1; i <= nt; i++) {
        line = rpad(tl[i], w0) " " lpad("calls/req", 9)
        for (s = 1; s <= ns; s++) {
            k = tk[i] SUBSEP key[s]
            line = line " " lpad(got[k] && req[k] > 0 ? sprintf("%.2f", total[k] / req[k]) : "-", w[s])
        }
        print line
    }
    print "top 5 by count, calls per request:"
    for (i = 1; i <= nt; i++) for (s = 1; s <= ns; s++) {
        k = tk[i] SUBSEP key[s]
        print "  " tl[i] ", " lab[s] " (" req[k] " requests, " total[k] " calls): " (got[k] ? top[k] : "no strace summary")
    }
}' "$TMP/columns" "$TMP/strace-rows" "$TMP/strace-runs"
fi

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
echo "srv us/r: server CPU (user + system) per request or connection, in microseconds:"
echo "  the load generator is the bottleneck in most rows, so this is the server's own cost."
echo "Columns, by the flags each server ran with, FLAGS standing for"
echo "  $flags:"
if in_list nginx "$SERVERS"; then
    echo "  nginx: nginx$nginx_version, worker_processes 1, master_process off, access_log off, return 200."
fi
if in_list twkit "$SERVERS"; then
    echo "  $LABEL_A: $TWKIT FLAGS, no --after-fin (the binary's default)."
fi
if in_list twkit-fin "$SERVERS"; then
    echo "  $LABEL_A-fin: $TWKIT FLAGS --after-fin fin: the client's FIN is answered"
    echo "    with FIN, a classic passive close: the client holds TIME_WAIT."
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
fi
[ -z "$notes" ] || printf 'errors:\n%s' "$notes"
