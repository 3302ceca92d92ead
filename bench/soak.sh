#!/bin/bash
# The soak (make soak; root: a network namespace): the ASan + UBSan build
# of twkit serve, twp and HTTP, each under hostile peers and well-behaved
# clients at once for SOAK_SECONDS; then the load stops and each server
# must give back every descriptor and its memory, and exit clean.
#
#   bench/soak.sh [TWKIT_BINARY]         (default build-san/twkit, make SAN=1)
#   SOAK_SECONDS=60 bench/soak.sh
#   SOAK_SECONDS=3600 GOOD_CLIENTS=20 HOSTILE_SCALE=2 SOAK_SEED=7 bench/soak.sh
#
# One namespace (twsoak-PID) with only lo: twkit serve on 127.0.0.1:7070
# (twp) and twkit serve --proto http on 127.0.0.1:8080, one thread each,
#   --max-conns MAX_CONNS --max-requests MAX_REQUESTS --idle-timeout
#   IDLE_TIMEOUT --json; twp --max-frame MAX_FRAME; http --body-size BODY_SIZE
# and four load processes (bench/soak_peers.py, /usr/bin/python3, asyncio on
# plain non-blocking sockets), a good one and a hostile one per server:
#   good, every reply verified byte for byte, every failure counted by
#   reason: twp sessions (HELLO; DATA of 0 to MAX_FRAME random bytes, up to
#   4 pipelined, echoed; PING/PONG; ended by BYE -> GOODBYE -> RST, by our
#   FIN, or by the server's DONE at MAX_REQUESTS, after which the requests
#   it did not answer go again on a new connection); HTTP keep-alive
#   sessions (pipelined; ended by Connection: close, our FIN, or the
#   server's close at MAX_REQUESTS), Connection: close, HTTP/1.0,
#   half-closed requests. twkit serve has no HTTP echo: GET / must return
#   its BODY_SIZE body exactly, HEAD its length, /health, 404 and /metrics
#   theirs, and POSTs of random bodies (Content-Length, chunked, Expect:
#   100-continue) their 405, the next response on the connection proving
#   the body was consumed exactly. A good client must never be refused,
#   reset, cut short, sent a wrong byte or kept waiting GOOD_TIMEOUT.
#   hostile, bounded in number (about 16 at a time, HOSTILE_SCALE) and time
#   (each at most a minute): pipelining non-readers, slowloris and
#   trickled frames (below and above the progress rule), RST (SO_LINGER 0)
#   at every stage (connect, mid-line/header/frame header/payload/body/
#   chunk, after the request, mid-response, after BYE, after DONE),
#   half-closers, heads and frames over the limits, protocol and smuggling
#   errors, garbage; and every FLOOD_EVERY seconds MAX_CONNS + FLOOD_EXTRA
#   connections at once, by turns answered once then idle (the reaper's
#   victims: reaped_idle) and silent or a partial head (nothing to reap:
#   accept_paused), held FLOOD_HOLD s. Where PROTOCOL.md says what the
#   answer is (an ERROR code, a 4xx, every reply then EOF), a different
#   answer is a "wrong answer" and fails the run.
# Good clients are never the reaper's victims by design: between requests
# each keeps the first byte of its next request (twp: the 0x00 that starts
# every frame header) in the server's input buffer, so it is never idle
# (nothing buffered, nothing unacknowledged) in the server's sense, and
# within one write it was just read, at the far end of the reaper's scan
# (the 64 least recently active); the hostile idlers are older and idle.
# A new good connection during a silent flood waits in the backlog (the
# server has paused accept) for at most FLOOD_HOLD/2 s plus a little: less
# than GOOD_TIMEOUT.
#
# Every PROGRESS_SECONDS (stderr), per server: elapsed, VmRSS, open
# descriptors (/proc/PID/fd), CPU % of one core since the last line, good
# requests, good failures, hostile connections made.
#
# The end: the load processes stop starting anything at SOAK_SECONDS and
# finish what they do (at most STOP_WAIT s). Then, within SETTLE_SECONDS,
# each server's descriptors must be exactly its count at startup and its
# VmRSS at most startup + ASAN_QUARANTINE_MB + max(RSS_SLACK_MB, RSS_SLACK_PCT
# % of startup). Why that much: ASan keeps freed memory in its quarantine
# (up to quarantine_size_mb, here ASAN_QUARANTINE_MB = 4, not 256, so the
# check can be tight and a use after free of recent memory is still caught)
# and keeps freed chunks in per-size free lists rather than returning the
# pages, about the peak of small allocations at once: the connection table
# (MAX_CONNS connections) and its buffers, a few MiB; buffers over 128 KiB
# are unmapped when they leave the quarantine. 8 MiB is about 1 % of the
# ~1 GiB of connection and buffer memory a 600 s run allocates and frees, so
# a leak of 100 bytes per connection (about 150,000 connections per server
# in 600 s) fails it; LeakSanitizer reports what is unreachable at exit.
# Then SIGTERM; the server must exit 0 within 45 s, with no report of
# AddressSanitizer, UndefinedBehaviorSanitizer or LeakSanitizer and no
# failed assertion on stderr (UBSan is built to abort). Its exit counters
# (--json) must add up: the ending counters sum to accepted, active is 0,
# first_fin_refused is 0; twp's port must never have had a TIME_WAIT socket
# (the server never sends the first FIN; sampled with each progress line),
# and the descriptors never more than startup + MAX_CONNS + 2. Exit 1 on any
# good failure, wrong answer, sanitizer report, check, or a server that
# died; the table and the reasons are printed either way.
#
# Knobs (environment), defaults in brackets:
#   SOAK_SECONDS [600]     the load's length
#   PROGRESS_SECONDS [10]  between progress lines
#   MAX_CONNS [200]        --max-conns of both servers (the table fills)
#   MAX_REQUESTS [100]     --max-requests: DONE / Connection: close after so many
#   MAX_FRAME [65536]      twp --max-frame (good payloads go up to it)
#   BODY_SIZE [65536]      http --body-size (GET / and HEAD /)
#   IDLE_TIMEOUT [20]      --idle-timeout, s (the default 60 would rarely fire)
#   GOOD_CLIENTS [10]      good clients per server, at once
#   GOOD_THINK_MS [5]      a good client's pause between requests, 0..N ms
#   GOOD_TIMEOUT [30]      a good client's deadline for each step, s
#   HOSTILE_SCALE [1]      hostile workers per kind (x2, RST x4)
#   FLOOD_EVERY [20]  FLOOD_EXTRA [40]  FLOOD_HOLD [8]   the floods
#   STOP_WAIT [90]         s for the load processes to finish after SOAK_SECONDS
#   SETTLE_SECONDS [30]    s for descriptors and RSS to come back
#   ASAN_QUARANTINE_MB [4]  RSS_SLACK_MB [8]  RSS_SLACK_PCT [20]
#   SOAK_ASAN_OPTIONS      extra ASAN_OPTIONS (appended)
#   SOAK_SEED [the PID]    the load's random seed (printed; set it to replay)
#   SOAK_KEEP [0]          1: keep the run's directory (logs, status files,
#                          server output); it is kept anyway on failure
# Output: progress on stderr, the table and the verdict on stdout.
set -eu

case ${1:-} in -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac
TWKIT=${1:-build-san/twkit}
SOAK_SECONDS=${SOAK_SECONDS:-600}
PROGRESS_SECONDS=${PROGRESS_SECONDS:-10}
MAX_CONNS=${MAX_CONNS:-200}
MAX_REQUESTS=${MAX_REQUESTS:-100}
MAX_FRAME=${MAX_FRAME:-65536}
BODY_SIZE=${BODY_SIZE:-65536}
IDLE_TIMEOUT=${IDLE_TIMEOUT:-20}
GOOD_CLIENTS=${GOOD_CLIENTS:-10}
GOOD_THINK_MS=${GOOD_THINK_MS:-5}
GOOD_TIMEOUT=${GOOD_TIMEOUT:-30}
HOSTILE_SCALE=${HOSTILE_SCALE:-1}
FLOOD_EVERY=${FLOOD_EVERY:-20}
FLOOD_EXTRA=${FLOOD_EXTRA:-40}
FLOOD_HOLD=${FLOOD_HOLD:-8}
STOP_WAIT=${STOP_WAIT:-90}
SETTLE_SECONDS=${SETTLE_SECONDS:-30}
ASAN_QUARANTINE_MB=${ASAN_QUARANTINE_MB:-4}
RSS_SLACK_MB=${RSS_SLACK_MB:-8}
RSS_SLACK_PCT=${RSS_SLACK_PCT:-20}
SOAK_SEED=${SOAK_SEED:-$$}
SOAK_KEEP=${SOAK_KEEP:-0}
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
PEERS=$HERE/soak_peers.py
SERVERS="twp http"
NS=twsoak-$$

die() { echo "soak: $*" >&2; exit 2; }
say() { echo "soak: $*" >&2; }
for v in SOAK_SECONDS PROGRESS_SECONDS MAX_CONNS MAX_REQUESTS MAX_FRAME BODY_SIZE IDLE_TIMEOUT \
         GOOD_CLIENTS GOOD_THINK_MS GOOD_TIMEOUT FLOOD_EVERY FLOOD_EXTRA FLOOD_HOLD STOP_WAIT \
         SETTLE_SECONDS ASAN_QUARANTINE_MB RSS_SLACK_MB RSS_SLACK_PCT SOAK_SEED; do
    case ${!v} in '' | *[!0-9]*) die "$v=${!v}: not a whole number" ;; esac
done
case $HOSTILE_SCALE in '' | *[!0-9.]*) die "HOSTILE_SCALE=$HOSTILE_SCALE: not a number" ;; esac
[ "$SOAK_SECONDS" -ge 10 ] || die "SOAK_SECONDS must be at least 10"
[ "$PROGRESS_SECONDS" -ge 1 ] || die "PROGRESS_SECONDS must be at least 1"
[ "$MAX_CONNS" -ge 100 ] || die "MAX_CONNS must be at least 100 (the reaper scans 64; good clients need room)"
[ "$MAX_REQUESTS" -ge 2 ] || die "MAX_REQUESTS must be at least 2"
[ "$(id -u)" = 0 ] || die "needs root (a network namespace)"
[ -x "$TWKIT" ] || die "$TWKIT: not built (make SAN=1)"
grep -qa __asan_init "$TWKIT" || die "$TWKIT: not an AddressSanitizer build (make SAN=1: build-san/twkit)"
[ -x "$PY" ] || die "$PY: missing (apt-get install python3)"
[ -f "$PEERS" ] || die "$PEERS: missing"
case $TWKIT in /*) ;; *) TWKIT=$PWD/$TWKIT ;; esac
HZ=$(getconf CLK_TCK)
# The ending counters, from the binary's own list (its --help marks them)
ENDINGS=$("$TWKIT" serve --help | awk '$2 == "ending:" {print $1}' | tr '\n' ' ')
[ -n "$ENDINGS" ] || die "$TWKIT serve --help lists no ending counters"

# Descriptors: the servers need MAX_CONNS each, the load a few hundred more
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

RUN=$(mktemp -d "${TMPDIR:-/tmp}/twkit-soak.XXXXXX")
PIDS=""          # every process started and not yet reaped
FAILED=""        # the reasons this run fails, one a line
fail() { FAILED="$FAILED$*
"; say "FAIL: $*"; }

cleanup() {
    set +e
    for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
    for _ in $(seq 50); do
        alive=""
        for p in $PIDS; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ -n "$alive" ] || break
        sleep 0.1
    done
    for p in $PIDS; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    # anything still in the namespace was started by this script
    for p in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    ip netns del "$NS" 2>/dev/null
    if [ "$SOAK_KEEP" = 1 ] || [ -n "$FAILED" ] || [ "${KEEP_RUN:-0}" = 1 ]; then
        say "the run's files are in $RUN"
    else
        rm -rf "$RUN"
    fi
}
trap cleanup EXIT
trap 'KEEP_RUN=1; say interrupted; exit 130' INT
trap 'KEEP_RUN=1; say terminated; exit 143' TERM

ip netns add "$NS"
ip netns exec "$NS" ip link set lo up

nsx() { ip netns exec "$NS" "$@"; }
untrack() {
    local p rest=""
    for p in $PIDS; do [ "$p" = "$1" ] || rest="$rest $p"; done
    PIDS=$rest
}

# spawn OUT ERR CMD...: CMD in the namespace, in the background, with no
# descriptor but 0-2 (a server's descriptor count is judged); PID in SPAWNED.
# The subshell execs ip netns exec, which execs CMD: $! is CMD itself.
spawn() {
    local out=$1 err=$2
    shift 2
    (
        for fd in /proc/$BASHPID/fd/*; do
            n=${fd##*/}
            [ "$n" -le 2 ] || eval "exec $n>&-" 2>/dev/null || true
        done
        exec ip netns exec "$NS" "$@" </dev/null >"$out" 2>"$err"
    ) &
    SPAWNED=$!
    PIDS="$PIDS $SPAWNED"
}

port_of() { case $1 in twp) echo 7070 ;; http) echo 8080 ;; esac; }

ASAN="quarantine_size_mb=$ASAN_QUARANTINE_MB:detect_leaks=1:malloc_context_size=20:print_summary=1"
[ -z "${SOAK_ASAN_OPTIONS:-}" ] || ASAN="$ASAN:$SOAK_ASAN_OPTIONS"
UBSAN="print_stacktrace=1:print_summary=1"
COMMON="--max-conns $MAX_CONNS --max-requests $MAX_REQUESTS --idle-timeout ${IDLE_TIMEOUT}s --json"
declare -A SPID FDS0 RSS0 FDSMAX TWMAX TICKS LAST_TICKS
for s in $SERVERS; do
    case $s in
    twp) flags="--listen 127.0.0.1:7070 --max-frame $MAX_FRAME $COMMON" ;;
    http) flags="--proto http --listen 127.0.0.1:8080 --body-size $BODY_SIZE $COMMON" ;;
    esac
    spawn "$RUN/$s.out" "$RUN/$s.err" env ASAN_OPTIONS="$ASAN" UBSAN_OPTIONS="$UBSAN" \
        "$TWKIT" serve $flags
    SPID[$s]=$SPAWNED
    echo "$TWKIT serve $flags" > "$RUN/$s.cmd"
done
for s in $SERVERS; do
    for i in $(seq 200); do
        nsx ss -Htln "sport = :$(port_of "$s")" | grep -q . && break
        kill -0 "${SPID[$s]}" 2>/dev/null || die "twkit serve ($s) exited at start: $(tail -n 5 "$RUN/$s.err")"
        [ "$i" -lt 200 ] || die "twkit serve ($s) did not listen within 10 s"
        sleep 0.05
    done
done
sleep 1   # ASan's start-up allocations settle

fds() { local a=(/proc/"$1"/fd/*); [ -e "${a[0]}" ] && echo "${#a[@]}" || echo 0; }
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
# counter FILE KEY: a counter of a load process's status file (0 if none)
counter() { awk -v k="$2" '$1 == k {v = $2} END {print v + 0}' "$1" 2>/dev/null || echo 0; }
srv_tw() { nsx ss -Htan state time-wait "sport = :$(port_of "$1")" 2>/dev/null | wc -l; }

for s in $SERVERS; do
    FDS0[$s]=$(fds "${SPID[$s]}") RSS0[$s]=$(rss "${SPID[$s]}")
    FDSMAX[$s]=${FDS0[$s]} TWMAX[$s]=0 LAST_TICKS[$s]=$(ticks "${SPID[$s]}")
    say "$s: twkit serve pid ${SPID[$s]}, at startup $(mib "${RSS0[$s]}") MiB resident, ${FDS0[$s]} descriptors"
done

# The load: a good and a hostile process per server.
say "load for ${SOAK_SECONDS}s, seed $SOAK_SEED: $GOOD_CLIENTS good clients and the hostile peers per server"
declare -A LPID
n=0
for s in $SERVERS; do
    for role in good hostile; do
        n=$((n + 1))
        spawn "$RUN/$role-$s.stdout" "$RUN/$role-$s.log" "$PY" "$PEERS" --role "$role" --proto "$s" \
            --addr "127.0.0.1:$(port_of "$s")" --seconds "$SOAK_SECONDS" --status "$RUN/$role-$s.stat" \
            --seed $((SOAK_SEED * 10 + n)) --clients "$GOOD_CLIENTS" --think-ms "$GOOD_THINK_MS" \
            --good-timeout "$GOOD_TIMEOUT" --scale "$HOSTILE_SCALE" --flood-every "$FLOOD_EVERY" \
            --flood-extra "$FLOOD_EXTRA" --flood-hold "$FLOOD_HOLD" --max-conns "$MAX_CONNS" \
            --max-frame "$MAX_FRAME" --max-requests "$MAX_REQUESTS" --body-size "$BODY_SIZE" \
            --idle-timeout "$IDLE_TIMEOUT"
        LPID[$role-$s]=$SPAWNED
    done
done

# sample SERVER: descriptors (and their peak), RSS
sample() {
    local p=${SPID[$1]} f
    f=$(fds "$p")
    [ "$f" -le "${FDSMAX[$1]}" ] || FDSMAX[$1]=$f
    FDS=$f RSS=$(rss "$p")
}

start=$(date +%s)
last=$start
dead=""
while :; do
    now=$(date +%s)
    el=$((now - start))
    for s in $SERVERS; do
        if ! kill -0 "${SPID[$s]}" 2>/dev/null; then
            dead="$dead $s"
            fail "twkit serve ($s) died during the load: $(tail -n 3 "$RUN/$s.err" | tr '\n' ' ')"
        fi
        sample "$s"
    done
    [ -z "$dead" ] || break
    if [ $((now - last)) -ge "$PROGRESS_SECONDS" ]; then
        for s in $SERVERS; do
            sample "$s"
            t=$(ticks "${SPID[$s]}")
            cpu=$(awk -v d=$((t - LAST_TICKS[$s])) -v hz="$HZ" -v s=$((now - last)) \
                  'BEGIN {printf "%.0f", d / hz / s * 100}')
            LAST_TICKS[$s]=$t
            tw=$(srv_tw "$s")
            [ "$tw" -le "${TWMAX[$s]}" ] || TWMAX[$s]=$tw
            printf 'soak %4ds %-4s rss %6s MiB  fds %4s  cpu %3s%%  good %8s req %3s fail  hostile %6s conns\n' \
                "$el" "$s" "$(mib "$RSS")" "$FDS" "$cpu" \
                "$(counter "$RUN/good-$s.stat" good.requests)" "$(counter "$RUN/good-$s.stat" good.failures)" \
                "$(counter "$RUN/hostile-$s.stat" hostile.conns)" >&2
        done
        last=$now
    fi
    alive=""
    for k in "${!LPID[@]}"; do kill -0 "${LPID[$k]}" 2>/dev/null && alive="$alive $k"; done
    [ -n "$alive" ] || break
    if [ "$el" -ge $((SOAK_SECONDS + STOP_WAIT)) ]; then
        fail "load processes still running ${STOP_WAIT}s after the end:$alive (stopped)"
        break
    fi
    sleep 1
done
load_s=$(($(date +%s) - start))
# the load processes: reap them, stop any that is late
for k in "${!LPID[@]}"; do
    p=${LPID[$k]}
    kill -TERM "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    untrack "$p"
    grep -q '^done 1$' "$RUN/$k.stat" 2>/dev/null || [ -n "$dead" ] ||
        fail "$k: the load process did not finish (its log: $(tail -n 2 "$RUN/$k.log" | tr '\n' ' '))"
done
for s in $SERVERS; do
    tw=$(srv_tw "$s")
    [ "$tw" -le "${TWMAX[$s]}" ] || TWMAX[$s]=$tw
done

# Back to the baseline, within SETTLE_SECONDS
declare -A FDS1 RSS1 RSSLIM SETTLED HWM
for s in $SERVERS; do
    RSSLIM[$s]=$(awk -v b="${RSS0[$s]}" -v q="$ASAN_QUARANTINE_MB" -v m="$RSS_SLACK_MB" -v p="$RSS_SLACK_PCT" \
        'BEGIN {s = b * p / 100; if (s < m * 1024) s = m * 1024; printf "%d", b + q * 1024 + s}')
done
if [ -z "$dead" ]; then
    say "load stopped after ${load_s}s; waiting up to ${SETTLE_SECONDS}s for descriptors and memory to come back"
    for i in $(seq 0 "$SETTLE_SECONDS"); do
        ok=1
        for s in $SERVERS; do
            sample "$s"
            FDS1[$s]=$FDS RSS1[$s]=$RSS
            SETTLED[$s]=$i
            [ "$FDS" -eq "${FDS0[$s]}" ] && [ "$RSS" -le "${RSSLIM[$s]}" ] || ok=0
        done
        [ "$ok" = 0 ] || break
        [ "$i" -eq "$SETTLE_SECONDS" ] || sleep 1
    done
    for s in $SERVERS; do
        HWM[$s]=$(hwm "${SPID[$s]}")
        if [ "${FDS1[$s]}" -ne "${FDS0[$s]}" ]; then
            fail "$s: ${FDS1[$s]} descriptors ${SETTLE_SECONDS}s after the load, ${FDS0[$s]} at startup"
            ls -l "/proc/${SPID[$s]}/fd" > "$RUN/$s.fds-left" 2>&1 || true
            nsx ss -Htanpo "sport = :$(port_of "$s")" > "$RUN/$s.sockets-left" 2>&1 || true
        fi
        [ "${RSS1[$s]}" -le "${RSSLIM[$s]}" ] ||
            fail "$s: $(mib "${RSS1[$s]}") MiB resident ${SETTLE_SECONDS}s after the load, limit $(mib "${RSSLIM[$s]}") (startup $(mib "${RSS0[$s]}"))"
    done
fi

# SIGTERM, the exit status, the counters, the sanitizers
declare -A RC CPU
for s in $SERVERS; do
    p=${SPID[$s]}
    CPU[$s]=$(awk -v t="$(ticks "$p")" -v hz="$HZ" 'BEGIN {printf "%.1f", t / hz}')
    [ -n "${HWM[$s]:-}" ] || HWM[$s]=$(hwm "$p")
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 450); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$p" 2>/dev/null; then
        fail "$s: still running 45 s after SIGTERM (killed)"
        kill -KILL "$p" 2>/dev/null || true
    fi
    RC[$s]=0
    wait "$p" 2>/dev/null || RC[$s]=$?
    untrack "$p"
    [ "${RC[$s]}" = 0 ] || fail "$s: twkit serve exited with status ${RC[$s]}"
    if grep -qE 'Sanitizer|runtime error|Assertion .* failed|SUMMARY:' "$RUN/$s.err"; then
        fail "$s: sanitizer report or failed assertion on stderr: $(grep -m 3 -E 'Sanitizer|runtime error|Assertion|SUMMARY' "$RUN/$s.err" | tr '\n' ' ')"
    fi
    # the exit counters, one "name value" a line
    tr -d '{}"' < "$RUN/$s.out" | tr ',' '\n' | tr ':' ' ' | grep -E '^[a-z_0-9]+ [0-9]+$' > "$RUN/$s.counters" || true
    if [ ! -s "$RUN/$s.counters" ]; then
        [ -n "$dead" ] || fail "$s: no exit counters on stdout"
        continue
    fi
    c() { awk -v k="$1" '$1 == k {print $2}' "$RUN/$s.counters"; }
    sum=0
    for e in $ENDINGS; do sum=$((sum + $(c "$e"))); done
    [ "$sum" = "$(c accepted)" ] || fail "$s: the ending counters add up to $sum, accepted $(c accepted)"
    [ "$(c active)" = 0 ] || fail "$s: active $(c active) at exit"
    [ "$(c first_fin_refused)" = 0 ] || fail "$s: first_fin_refused $(c first_fin_refused)"
    [ "${FDSMAX[$s]}" -le $((FDS0[$s] + MAX_CONNS + 2)) ] ||
        fail "$s: ${FDSMAX[$s]} descriptors at a peak, more than ${FDS0[$s]} + --max-conns $MAX_CONNS + 2"
done
[ "${TWMAX[twp]}" = 0 ] || fail "twp: ${TWMAX[twp]} TIME_WAIT sockets on the server's port (it never closes first)"
for s in $SERVERS; do
    g=$RUN/good-$s.stat
    [ "$(counter "$g" good.failures)" = 0 ] || fail "$s: $(counter "$g" good.failures) good-client failures"
    [ "$(counter "$g" good.requests)" -gt 0 ] || fail "$s: no good request was answered"
    h=$(counter "$RUN/hostile-$s.stat" hostile.wrong)
    [ "$h" = 0 ] || fail "$s: $h wrong answers to hostile peers"
done

# The table: rows of label, twp, http
rows=$RUN/rows
: > "$rows"
row() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$rows"; }
both() { row "$1" "$($2 twp)" "$($2 http)"; }
gst() { counter "$RUN/good-$1.stat" "$KEY"; }
hst() { counter "$RUN/hostile-$1.stat" "$KEY"; }
cst() { awk -v k="$KEY" '$1 == k {print $2}' "$RUN/$1.counters" 2>/dev/null; }
gib() { awk -v b="$(KEY=good.bytes gst "$1")" 'BEGIN {printf "%.2f GiB", b / 1073741824}'; }
KEY=good.requests; both "good requests verified" gst
row "good bytes verified" "$(gib twp)" "$(gib http)"
KEY=good.sessions; both "good connections" gst
KEY=good.retried; both "  resent after DONE / close" gst
KEY=good.failures; both "good failures" gst
for k in $(cat "$RUN"/good-*.stat | awk '$1 ~ /^fail\./ {print $1}' | sort -u); do
    KEY=$k; both "  ${k#fail.}" gst
done
KEY=hostile.conns; both "hostile connections" hst
for k in $(cat "$RUN"/hostile-*.stat | awk '$1 ~ /^conns\./ {print $1}' | sort -u); do
    KEY=$k; both "  ${k#conns.}" hst
done
KEY=hostile.wrong; both "hostile wrong answers" hst
for k in $(awk '{print $1}' "$RUN"/twp.counters "$RUN"/http.counters 2>/dev/null | awk '!seen[$0]++'); do
    KEY=$k; both "serve: $k" cst
done
declare -A R0 R1
for s in $SERVERS; do
    R0[$s]="$(mib "${RSS0[$s]}") / ${FDS0[$s]}"
    R1[$s]="$(mib "${RSS1[$s]:-0}") / ${FDS1[$s]:-?}"
done
row "RSS MiB / fds at startup" "${R0[twp]}" "${R0[http]}"
row "peak RSS MiB / peak fds" "$(mib "${HWM[twp]}") / ${FDSMAX[twp]}" "$(mib "${HWM[http]}") / ${FDSMAX[http]}"
row "after the load (limit)" "${R1[twp]} ($(mib "${RSSLIM[twp]}"))" "${R1[http]} ($(mib "${RSSLIM[http]}"))"
row "  back within (s)" "${SETTLED[twp]:--}" "${SETTLED[http]:--}"
row "server CPU s" "${CPU[twp]}" "${CPU[http]}"
row "server-side TIME_WAIT (max)" "${TWMAX[twp]}" "${TWMAX[http]}"
row "exit status" "${RC[twp]}" "${RC[http]}"
echo
echo "soak: ${load_s}s of load on $TWKIT (ASan + UBSan), seed $SOAK_SEED, --max-conns $MAX_CONNS,"
echo "  --max-requests $MAX_REQUESTS, --idle-timeout ${IDLE_TIMEOUT}s, twp --max-frame $MAX_FRAME, http --body-size $BODY_SIZE;"
echo "  $GOOD_CLIENTS good clients per server, hostile scale $HOSTILE_SCALE, a flood of $((MAX_CONNS + FLOOD_EXTRA)) every ${FLOOD_EVERY}s"
awk -F '\t' '
{ l[NR] = $1; a[NR] = $2; b[NR] = $3; if (length($1) > w0) w0 = length($1)
  if (length($2) > w1) w1 = length($2); if (length($3) > w2) w2 = length($3) }
END {
    if (w1 < 3) w1 = 3; if (w2 < 4) w2 = 4
    printf "%-" w0 "s  %" w1 "s  %" w2 "s\n", "", "twp", "http"
    for (i = 1; i <= NR; i++) printf "%-" w0 "s  %" w1 "s  %" w2 "s\n", l[i], a[i], b[i]
}' "$rows"
# hostile outcomes, per kind: how its connections ended, summed over its variants
echo "hostile outcomes (kind: outcome count, ...; variants in the run's status files):"
for s in $SERVERS; do
    [ -f "$RUN/hostile-$s.stat" ] || continue
    awk -v s="$s" '$1 ~ /^out\./ {
        split($1, f, "."); k = f[2]; o = f[4]; for (i = 5; i in f; i++) o = o "." f[i]
        n[k, o] += $2; if (!(k in seen)) { seen[k] = 1; order[++nk] = k }
        if (!((k, o) in so)) { so[k, o] = 1; outs[k] = outs[k] " " o }
    }
    END {
        for (i = 1; i <= nk; i++) {
            k = order[i]; line = ""; m = split(substr(outs[k], 2), os, " ")
            for (j = 1; j <= m; j++) line = line (j > 1 ? ", " : "") os[j] " " n[k, os[j]]
            printf "  %s %s: %s\n", s, k, line
        }
    }' "$RUN/hostile-$s.stat"
done
if [ -n "$FAILED" ]; then
    echo "RESULT: FAIL"
    printf '%s' "$FAILED" | sed 's/^/  /'
    for s in $SERVERS; do
        for r in good hostile; do
            [ ! -s "$RUN/$r-$s.log" ] || { echo "  $r-$s.log (first lines):"; head -n 5 "$RUN/$r-$s.log" | sed 's/^/    /'; }
        done
    done
    exit 1
fi
echo "RESULT: PASS"
