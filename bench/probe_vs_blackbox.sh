#!/bin/bash
# twkit probe against prometheus-blackbox-exporter, side by side in one run
# (make bench-probe; root: network namespaces, apt-get).
#
#   bench/probe_vs_blackbox.sh [--json] [TWKIT_BINARY]
#   DURATION=5 BIG_TCP=2000 BIG_HTTPS=200 BIG_DURATION=5 bench/probe_vs_blackbox.sh
#   ONLY=icmp bench/probe_vs_blackbox.sh
#
# Knobs (environment): DURATION=20 (s, each side-by-side run), RATE_TCP=500,
# RATE_HTTP=250, RATE_DNS=500, RATE_ICMP=500 (probes/s for both probers: that
# many targets at 1 s), BIG_TCP=20000, BIG_HTTPS=2000 (targets at 1 s for the
# standalone twkit runs; the BIG_TCP row runs again with a history: written,
# its store counters read from /metrics at both ends of the window), BIG_DURATION=30
# (s), JSON=1 (same as --json),
# ONLY=KIND,... (the rows of these kinds only: tcp, http, https, dns, icmp;
# default all).
#
# Rows: tcp, http, dns and icmp, twkit probe and blackbox_exporter at the same rate,
# and twkit probe's /probe (--blackbox-config, the same blackbox.yml)
# driven exactly as blackbox_exporter is; then twkit alone with BIG_TCP tcp targets and BIG_HTTPS https targets
# (full handshakes: nginx has session caches and tickets off). icmp targets
# are the same loopback addresses, answered by the namespace's kernel; its
# net.ipv4.ping_group_range lets both probers have ping sockets (neither
# needs a raw one), and each icmp probe is one echo request.
#
# Every run gets a fresh network namespace (twpb-PID-N) with only lo in
# it, so each run counts its own TIME_WAIT and the host is not touched.
# Target i is the loopback address 127.(1 + i/64000).(i/250 % 256).(1 + i%250),
# unique up to 16 million targets and never 127.0.0.1, where the fixed
# services listen. The servers listen on 0.0.0.0 in the namespace: twkit
# serve (twp, port 7070), twkit serve --proto http --after-fin fin (8080;
# it answers a FIN with FIN, as most HTTP servers do, so a prober that
# closes with FIN holds the TIME_WAIT it would hold against them), nginx
# (https, 8443, ECDSA P-256), dnsmasq (dns, 53: one A record, on every
# address; both probers ask it over UDP). blackbox_exporter listens on 127.0.0.1:9115 and is
# driven by a second twkit probe (the driver): one http probe per target,
# GET /probe?module=...&target=..., interval 1 s, body must match
# "probe_success 1", so the driver's results are blackbox's probes. The
# prober (twkit probe, or blackbox_exporter) runs on CPU 0; servers and the
# driver on CPU 1 (when there are 2 CPUs).
#
# Method, the same for both probers; only the prober's own process is
# measured, never the driver or the servers:
#   - start the prober (and for blackbox, its driver), wait WARMUP=2 s;
#   - CPU: utime + stime from /proc/PID/stat (clock ticks, getconf CLK_TCK)
#     at the start and at the end of the steady window of DURATION seconds;
#   - at the end of the window, before anything is stopped: peak RSS (VmHWM
#     from /proc/PID/status) and the TIME_WAIT sockets in the namespace
#     (ss -Htan state time-wait);
#   - then SIGTERM (driver first) and the --summary line of twkit probe (the
#     prober's, or the driver's for blackbox): probes = success + failure
#     over the whole run, rate = probes / wall_s of that summary (probes
#     are started spread evenly over the interval from the first second,
#     so the rate holds in the warm-up as well); ok % = success / probes;
#   - CPU per 1,000 probes = window CPU / (rate * window seconds) * 1000,
#     probes per CPU-second its inverse, CPU % = window CPU / window time.
#   - late p99 (twkit only): p99 of how late probes started, from the summary.
#   - a check of the counts: twkit serve's "accepted" at its exit against
#     the probes counted (a note when they differ by more than 0.1 %).
# twkit probe refuses a timeout longer than the interval, so the probes
# here (driver included) use timeout 1s at interval 1s; blackbox's modules
# have timeout 2s (a blackbox probe slower than 1 s fails at the driver).
#
# Output: progress on stderr, one table on stdout. With --json (or JSON=1)
# the table goes to stderr too and stdout holds one JSON document.
set -eu
. "$(dirname "$0")/nginx_tls.sh"

JSON=${JSON:-0}
if [ "${1:-}" = --json ]; then JSON=1; shift; fi
case ${1:-} in -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac
TWKIT=${1:-build/twkit}
DURATION=${DURATION:-20}
RATE_TCP=${RATE_TCP:-500}
RATE_HTTP=${RATE_HTTP:-250}
RATE_DNS=${RATE_DNS:-500}
RATE_ICMP=${RATE_ICMP:-500}
ONLY=${ONLY:-all}
STORE=0
BIG_TCP=${BIG_TCP:-20000}
BIG_HTTPS=${BIG_HTTPS:-2000}
BIG_DURATION=${BIG_DURATION:-30}
WARMUP=2
BB_ADDR=127.0.0.1:9115
TWBB_ADDR=127.0.0.1:9116

die() { echo "probe_vs_blackbox: $*" >&2; exit 1; }
say() { echo "$*" >&2; }
for v in DURATION RATE_TCP RATE_HTTP RATE_DNS RATE_ICMP BIG_TCP BIG_HTTPS BIG_DURATION; do
    case ${!v} in ''|*[!0-9]*) die "$v=${!v}: not a whole number" ;; esac
    [ "${!v}" -gt 0 ] || die "$v must be at least 1"
done
[ "$(id -u)" = 0 ] || die "needs root (network namespaces; apt-get for blackbox_exporter and nginx)"
[ -x "$TWKIT" ] || die "$TWKIT: not built (make)"
case $TWKIT in /*) ;; *) TWKIT=$PWD/$TWKIT ;; esac
"$TWKIT" probe --help >/dev/null 2>&1 || die "$TWKIT: no probe command"
need=""
command -v prometheus-blackbox-exporter >/dev/null || need="$need prometheus-blackbox-exporter"
command -v nginx >/dev/null || need="$need nginx-light"
command -v openssl >/dev/null || need="$need openssl"
command -v dnsmasq >/dev/null || need="$need dnsmasq-base"
if [ -n "$need" ]; then
    say "probe_vs_blackbox: installing$need from Debian"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need >/dev/null ||
        die "apt-get install$need failed"
fi
PIN_PROBER="" PIN_REST=""
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    PIN_PROBER="taskset -c 0" PIN_REST="taskset -c 1"
fi
HZ=$(getconf CLK_TCK)

# Descriptors: twkit probe asks for 2 per target (+256), the servers need
# one per connection in flight. Raise the limits of this shell (inherited
# by everything it starts) as far as they go.
NOTES=""
note() { NOTES="$NOTES  $*
"; }
max=$RATE_TCP
for n in $RATE_HTTP $RATE_DNS $RATE_ICMP $BIG_TCP $BIG_HTTPS; do [ "$n" -le "$max" ] || max=$n; done
want=$((2 * max + 1024))
[ "$want" -ge 65536 ] || want=65536
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$want" ]; then
    ulimit -Hn "$want" 2>/dev/null || prlimit --pid $$ --nofile="$want:$want" 2>/dev/null || true
fi
ulimit -Sn "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((2 * max + 256)) ]; then
    note "RLIMIT_NOFILE is $(ulimit -n) (the hard limit could not be raised to $want here:" \
         "no CAP_SYS_RESOURCE?); twkit probe would like $((2 * max + 256)) for $max targets."
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/twkit-probebench.XXXXXX")
PIDS=""    # every process started, until it is stopped
NSS=""     # every namespace created, until it is deleted
NSN=0
NS=""

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
    for ns in $NSS; do
        # anything still in the namespace was started by this script
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

nsx() { ip netns exec "$NS" "$@"; }

new_ns() {
    NSN=$((NSN + 1))
    NS=twpb-$$-$NSN
    ip netns add "$NS"
    NSS="$NSS $NS"
    nsx ip link set lo up
    RUN=$TMP/run$NSN
    mkdir -p "$RUN"
}

del_ns() {
    local p rest=""
    for p in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    ip netns del "$NS"
    for p in $NSS; do [ "$p" = "$NS" ] || rest="$rest $p"; done
    NSS=$rest
    NS=""
}

# The caller has just started a process with `ip netns exec ... &`:
# ip netns exec and taskset exec it, so $! is the process itself.
track() { PIDS="$PIDS $1"; }

# stop PID [SECONDS]: SIGTERM, wait at most SECONDS (10), then SIGKILL.
# Sets RC to its exit status.
stop() {
    local p=$1 t=${2:-10} i rest=""
    kill -TERM "$p" 2>/dev/null || true
    for i in $(seq $((t * 20))); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$p" 2>/dev/null; then
        kill -KILL "$p" 2>/dev/null || true
        note "pid $p ($(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | cut -c1-60)) ignored SIGTERM for ${t}s: killed"
    fi
    RC=0
    wait "$p" 2>/dev/null || RC=$?
    for i in $PIDS; do [ "$i" = "$p" ] || rest="$rest $i"; done
    PIDS=$rest
}

# wait_listen PORT WHAT PID: at most 10 s for a listener on PORT in $NS
wait_listen() {
    local i
    for i in $(seq 200); do
        nsx ss -Htln "sport = :$1" | grep -q . && return 0
        kill -0 "$3" 2>/dev/null || die "$2 exited at start: $(tail -n 5 "$RUN/$2.err" 2>/dev/null)"
        sleep 0.05
    done
    die "$2 did not listen on port $1 within 10 s"
}

# targets N FORMAT FILE: one line per target, FORMAT's %s the i-th address
targets() {
    awk -v n="$1" -v fmt="$2" 'BEGIN {
        for (i = 0; i < n; i++) {
            a = sprintf("127.%d.%d.%d", 1 + int(i / 64000), int(i / 250) % 256, 1 + i % 250)
            printf fmt "\n", a
        }
    }' > "$3"
}

ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
# (not the bench's own curl to the history row's /metrics on 9466)
tw_count() { nsx ss -Htan state time-wait '( dport != :9466 )' | wc -l; }
now() { echo "${EPOCHREALTIME:-$(date +%s.%N)}"; }
# jnum FIELD FILE: a number from the summary line in FILE
jnum() { grep '"event":"summary"' "$2" | tail -n 1 | sed -n "s/.*\"$1\":\([0-9.-]*\).*/\1/p"; }

# Targets: servers on CPU 1, listening on every loopback address.
start_servers() {
    case $1 in
    tcp)
        ip netns exec "$NS" $PIN_REST "$TWKIT" serve --listen 0.0.0.0:7070 --max-conns 100000 \
            </dev/null >"$RUN/serve.out" 2>"$RUN/serve.err" &
        track $!; SERVER_PID=$!
        wait_listen 7070 serve $SERVER_PID ;;
    http)
        ip netns exec "$NS" $PIN_REST "$TWKIT" serve --proto http --listen 0.0.0.0:8080 \
            --after-fin fin --max-conns 100000 </dev/null >"$RUN/serve.out" 2>"$RUN/serve.err" &
        track $!; SERVER_PID=$!
        wait_listen 8080 serve $SERVER_PID ;;
    https)
        ip netns exec "$NS" $PIN_REST nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" \
            -e "$TMP/nginx/error.log" </dev/null >"$RUN/serve.out" 2>"$RUN/serve.err" &
        track $!; SERVER_PID=$!
        wait_listen 8443 serve $SERVER_PID ;;
    dns)
        # no --bind-interfaces: one wildcard socket answers on every address
        ip netns exec "$NS" $PIN_REST dnsmasq --keep-in-foreground --no-resolv --no-hosts \
            --port=53 --local=/lab/ --host-record=web.lab,127.0.0.1 --local-ttl=300 \
            --pid-file= --log-facility=- </dev/null >"$RUN/serve.out" 2>"$RUN/serve.err" &
        track $!; SERVER_PID=$!
        wait_listen 53 serve $SERVER_PID ;;
    icmp)
        # the namespace's kernel answers; ping sockets for everyone
        nsx sysctl -q -w net.ipv4.ping_group_range="0 2147483647"
        SERVER_PID="" ;;
    esac
}

# nginx for https: one process (master_process off), full handshakes only
nginx_setup() {
    nginx_tls_conf "$TMP/nginx" twkit-probe-bench \
        $(( $(ulimit -n) > 40000 ? 40000 : $(ulimit -n) )) 16384 '    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache off;
    ssl_session_tickets off;
    server {
        listen 0.0.0.0:8443 ssl backlog=4096;
        location / { default_type text/plain; return 200 "ok\n"; }
    }'
}

bb_setup() {
    cat > "$TMP/blackbox.yml" <<EOF
modules:
  tcp_connect:
    prober: tcp
    timeout: 2s
  http_2xx:
    prober: http
    timeout: 2s
  dns_a:
    prober: dns
    timeout: 2s
    dns:
      query_name: web.lab
      query_type: A
  icmp:
    prober: icmp
    timeout: 2s
EOF
}

# probe_config FILE NAME KIND TARGETS_FILE [EXTRA YAML LINES]
probe_config() {
    {
        echo "defaults:"
        echo "  interval: 1s"
        echo "  timeout: 1s"
        echo "probes:"
        echo "  - name: $2"
        echo "    kind: $3"
        echo "    targets_file: $4"
        [ -z "${5:-}" ] || printf '%s\n' "$5"
    } > "$1"
}

# The history store's counters (STORE=1 runs): transactions, rows, seconds in
# transactions, bytes, one a line as "0 VALUE" for paste.
store_metrics() {
    nsx curl -s http://127.0.0.1:9466/metrics | awk '
        /^twkit_probe_store_transactions_total / { t = $2 }
        /^twkit_probe_store_rows_written_total/ { r += $2 }
        /^twkit_probe_store_write_seconds_total / { s = $2 }
        /^twkit_probe_store_bytes / { b = $2 }
        END { print t + 0; print r + 0; print s + 0; print b + 0 }'
}

# measure LABEL KIND PROBER N DUR: one row (STORE=1: with a history). KIND tcp|http|https, PROBER
# twkit (its own YAML), blackbox or twkit-probe (/probe of twkit probe
# --blackbox-config, driven as blackbox is), N targets at 1 s.
ROWS=0
measure() {
    local label=$1 kind=$2 prober=$3 n=$4 dur=$5 extra summ c0 c1 t0 t1 hwm tw rc
    case ",$ONLY," in *,all,*|*",$kind,"*) ;; *) return 0 ;; esac
    say "$kind: $(case $prober in twkit) echo "twkit probe" ;; blackbox) echo blackbox_exporter ;;
                  *) echo "twkit probe /probe" ;; esac)," \
        "$n targets, ${dur} s (+${WARMUP} s warm-up) ..."
    new_ns
    start_servers "$kind"
    if [ "$prober" = twkit ]; then
        case $kind in
        tcp) targets "$n" "%s:7070" "$RUN/targets.txt"; extra="" ;;
        http) targets "$n" "http://%s:8080/" "$RUN/targets.txt"; extra="" ;;
        https) targets "$n" "https://%s:8443/" "$RUN/targets.txt"; extra="    tls_verify: false" ;;
        dns) targets "$n" "%s" "$RUN/targets.txt"
             extra=$(printf '    query_name: web.lab\n    query_type: A') ;;
        icmp) targets "$n" "%s" "$RUN/targets.txt"; extra="" ;;
        esac
        probe_config "$RUN/probe.yml" bench "$(case $kind in https) echo http ;; *) echo "$kind" ;; esac)" \
            targets.txt "$extra"
        local listen=off
        if [ "$STORE" = 1 ]; then # the history: written by the after thread
            printf 'history:\n  path: %s\n' "$RUN/history.db" >> "$RUN/probe.yml"
            listen=127.0.0.1:9466
        fi
        ip netns exec "$NS" $PIN_PROBER "$TWKIT" probe --listen $listen \
            --duration "$((WARMUP + dur + 60))s" --summary --log "$RUN/probe.log" "$RUN/probe.yml" \
            </dev/null >"$RUN/probe.out" 2>"$RUN/probe.err" &
        track $!; PROBER_PID=$!
        summ=$RUN/probe.out
    else
        local addr=$BB_ADDR
        if [ "$prober" = blackbox ]; then
            ip netns exec "$NS" $PIN_PROBER prometheus-blackbox-exporter \
                --config.file="$TMP/blackbox.yml" --web.listen-address=$BB_ADDR \
                </dev/null >"$RUN/blackbox.out" 2>"$RUN/blackbox.err" &
        else
            addr=$TWBB_ADDR
            ip netns exec "$NS" $PIN_PROBER "$TWKIT" probe --blackbox-config "$TMP/blackbox.yml" \
                --listen $TWBB_ADDR --max-probes $((2 * n)) \
                </dev/null >"$RUN/blackbox.out" 2>"$RUN/blackbox.err" &
        fi
        track $!; PROBER_PID=$!
        wait_listen "${addr##*:}" blackbox $PROBER_PID
        case $kind in
        tcp) targets "$n" "http://$addr/probe?module=tcp_connect&target=%s:7070" \
                "$RUN/targets.txt" ;;
        http) targets "$n" "http://$addr/probe?module=http_2xx&target=http://%s:8080/" \
                "$RUN/targets.txt" ;;
        dns) targets "$n" "http://$addr/probe?module=dns_a&target=%s" "$RUN/targets.txt" ;;
        icmp) targets "$n" "http://$addr/probe?module=icmp&target=%s" "$RUN/targets.txt" ;;
        esac
        probe_config "$RUN/driver.yml" blackbox http targets.txt '    expect_body: "probe_success 1"'
        ip netns exec "$NS" $PIN_REST "$TWKIT" probe --listen off \
            --duration "$((WARMUP + dur + 60))s" --summary --log "$RUN/driver.log" "$RUN/driver.yml" \
            </dev/null >"$RUN/driver.out" 2>"$RUN/driver.err" &
        track $!; DRIVER_PID=$!
        summ=$RUN/driver.out
    fi
    sleep "$WARMUP"
    kill -0 "$PROBER_PID" 2>/dev/null || die "$label: the prober exited: $(tail -n 5 "$RUN"/*.err)"
    [ "$prober" = twkit ] || kill -0 "$DRIVER_PID" 2>/dev/null ||
        die "$label: the driver exited: $(tail -n 5 "$RUN/driver.err")"
    [ "$STORE" != 1 ] || store_metrics > "$RUN/store0"
    t0=$(now); c0=$(ticks "$PROBER_PID")
    sleep "$dur"
    kill -0 "$PROBER_PID" 2>/dev/null ||
        die "$label: the prober exited during the run: $(tail -n 5 "$RUN"/*.err)"
    c1=$(ticks "$PROBER_PID"); t1=$(now)
    if [ "$STORE" = 1 ]; then
        store_metrics > "$RUN/store1"
        STORE_NOTE=$(paste "$RUN/store0" "$RUN/store1" | awk -v w="$(awk -v a="$t0" -v b="$t1" \
            'BEGIN { print b - a }')" '{ d[NR] = $2 - $1 } END {
            printf "store, window of %.0f s: %.2f transactions/s, %.0f rows/s, %.1f %% of a core in transactions (wall), %.1f MB on disk",
                w, d[1] / w, d[2] / w, 100 * d[3] / w, $2 / 1e6 }')
        note "$label: $STORE_NOTE"
    fi
    hwm=$(hwm_kib "$PROBER_PID")
    tw=$(tw_count)
    if [ "$prober" != twkit ]; then
        stop "$DRIVER_PID" 10; rc=$RC
        stop "$PROBER_PID" 10
    else
        stop "$PROBER_PID" 10; rc=$RC
    fi
    [ -z "$SERVER_PID" ] || stop "$SERVER_PID" 10
    del_ns
    [ "$rc" = 0 ] || note "$label: twkit probe ($([ "$prober" = twkit ] && echo prober || echo driver)) exited with status $rc: $(tail -n 3 "$summ" "${summ%.out}.err" | tr '\n' ' ' | cut -c1-300)"
    grep -v '^{"event"' "${summ%.out}.err" 2>/dev/null | grep . | sort -u | head -n 3 |
        while IFS= read -r l; do echo "$label: stderr: $l"; done > "$RUN/stderr.notes"
    while IFS= read -r l; do note "$l"; done < "$RUN/stderr.notes"

    local ok fail loc skip wall p99 tsumm
    ok=$(jnum success "$summ"); fail=$(jnum failure "$summ"); loc=$(jnum local_error "$summ")
    skip=$(jnum skipped "$summ"); wall=$(jnum wall_s "$summ"); p99=$(jnum p99 "$summ")
    tsumm=$(jnum time_wait "$summ")
    if [ -z "$ok" ] || [ -z "$wall" ]; then
        note "$label: no summary line from twkit probe (exit status $rc)"
        ok=0 fail=0 loc=0 skip=0 wall=0 p99="" tsumm=""
    fi
    [ "${loc:-0}" = 0 ] || note "$label: $loc local errors (not counted as probes)"
    [ "${skip:-0}" = 0 ] || note "$label: $skip probes skipped (the target's previous probe still" \
        "running, or the prober a whole interval late)"
    if awk -v p="$((ok + fail))" -v w="$wall" -v n="$n" 'BEGIN { exit !(w > 0 && p / w < 0.95 * n) }'; then
        note "$label: $(awk -v p="$((ok + fail))" -v w="$wall" 'BEGIN { printf "%.0f", p / w }') probes/s" \
             "of the $n asked for"
    fi
    if [ "$prober" = twkit ] && [ -n "$tsumm" ] && [ "$tsumm" != "$tw" ] && [ "$tsumm" != -1 ]; then
        note "$label: summary says time_wait $tsumm, ss counted $tw at the end of the window"
    fi
    # twkit serve prints how many connections it accepted: one per probe
    # (less the probes cancelled when the prober stopped)
    local acc
    acc=$(awk '$1 == "accepted" { print $2 }' "$RUN/serve.out" 2>/dev/null || true) # icmp: none
    if [ -n "$acc" ] && [ $((ok + fail)) -gt 0 ] &&
       ! awk -v a="$acc" -v p="$((ok + fail))" 'BEGIN { d = a - p; if (d < 0) d = -d; exit !(d <= 5 || d <= p / 1000) }'; then
        note "$label: the server accepted $acc connections for $((ok + fail)) probes"
    fi
    ROWS=$((ROWS + 1))
    # one line of fields: label targets rate probes ok% cpu_s window_s cpu/1k probes/cpu-s
    # cpu% rss_mib tw late_p99_ms skipped local_error kind prober
    awk -v label="$label" -v n="$n" -v ok="$ok" -v fail="$fail" -v wall="$wall" \
        -v ticks="$((c1 - c0))" -v hz="$HZ" -v t0="$t0" -v t1="$t1" -v hwm="${hwm:-0}" \
        -v tw="$tw" -v p99="${p99:-}" -v skip="${skip:-0}" -v loc="${loc:-0}" \
        -v kind="$kind" -v prober="$prober" 'BEGIN {
        probes = ok + fail
        rate = wall > 0 ? probes / wall : 0
        cpu = ticks / hz; win = t1 - t0
        wp = rate * win
        okp = probes > 0 ? sprintf("%.1f", 100 * ok / probes) : "-"
        per1k = wp > 0 ? sprintf("%.4f", cpu / wp * 1000) : "-"
        pps = cpu > 0 ? sprintf("%.0f", wp / cpu) : "-"
        late = (prober == "twkit" && p99 != "") ? sprintf("%.2f", p99 / 1000) : "-"
        printf "%s\t%d\t%.0f\t%d\t%s\t%.2f\t%.2f\t%s\t%s\t%.1f\t%.1f\t%d\t%s\t%d\t%d\t%s\t%s\n",
            label, n, rate, probes, okp, cpu, win, per1k, pps, 100 * cpu / win, hwm / 1024,
            tw, late, skip, loc, kind, prober
    }' >> "$TMP/rows"
}

nginx_setup
bb_setup
: > "$TMP/rows"
T_START=$(now)
say "twkit probe vs blackbox_exporter $(prometheus-blackbox-exporter --version 2>&1 |
    sed -n 's/.*version \([^ ]*\).*/\1/p' | head -n 1); prober on CPU 0${PIN_PROBER:+, the rest on CPU 1}"
measure "twkit tcp" tcp twkit "$RATE_TCP" "$DURATION"
measure "blackbox tcp" tcp blackbox "$RATE_TCP" "$DURATION"
measure "twkit /probe tcp" tcp twkit-probe "$RATE_TCP" "$DURATION"
measure "twkit http" http twkit "$RATE_HTTP" "$DURATION"
measure "blackbox http" http blackbox "$RATE_HTTP" "$DURATION"
measure "twkit /probe http" http twkit-probe "$RATE_HTTP" "$DURATION"
measure "twkit dns" dns twkit "$RATE_DNS" "$DURATION"
measure "blackbox dns" dns blackbox "$RATE_DNS" "$DURATION"
measure "twkit /probe dns" dns twkit-probe "$RATE_DNS" "$DURATION"
measure "twkit icmp" icmp twkit "$RATE_ICMP" "$DURATION"
measure "blackbox icmp" icmp blackbox "$RATE_ICMP" "$DURATION"
measure "twkit /probe icmp" icmp twkit-probe "$RATE_ICMP" "$DURATION"
measure "twkit tcp (big)" tcp twkit "$BIG_TCP" "$BIG_DURATION"
STORE=1 # a minute's rows are written once it is over: a window of 65 s at least
measure "twkit tcp (big, history)" tcp twkit "$BIG_TCP" "$((BIG_DURATION > 65 ? BIG_DURATION : 65))"
STORE=0
measure "twkit https (big)" https twkit "$BIG_HTTPS" "$BIG_DURATION"
ELAPSED=$(awk -v a="$T_START" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }')

# ratio of CPU per probe, blackbox / twkit, for KIND
ratio() {
    awk -F'\t' -v k="$1" '$16 == k && $17 == "twkit" && !t { t = $8 }
        $16 == k && $17 == "blackbox" && !b { b = $8 }
        END { if (t + 0 > 0 && b + 0 > 0) printf(b / t < 10 ? "%.1f" : "%.0f", b / t); else print "-" }' "$TMP/rows"
}
R_TCP=$(ratio tcp)
R_HTTP=$(ratio http)
R_DNS=$(ratio dns)
R_ICMP=$(ratio icmp)
# the same for /probe: blackbox_exporter's over twkit probe's, both driven
ratio_probe() {
    awk -F'\t' -v k="$1" '$16 == k && $17 == "twkit-probe" && !t { t = $8 }
        $16 == k && $17 == "blackbox" && !b { b = $8 }
        END { if (t + 0 > 0 && b + 0 > 0) printf(b / t < 10 ? "%.1f" : "%.0f", b / t); else print "-" }' "$TMP/rows"
}
RP_TCP=$(ratio_probe tcp)
RP_HTTP=$(ratio_probe http)
RP_DNS=$(ratio_probe dns)
RP_ICMP=$(ratio_probe icmp)

table() {
    printf '%-20s %8s %7s %8s %6s %9s %12s %6s %8s %8s %9s\n' run targets rate/s probes "ok %" \
        CPU-s/1k probes/CPU-s "CPU %" "RSS MiB" "TW left" "late p99"
    awk -F'\t' '{
        late = $13 == "-" ? "-" : $13 " ms"
        printf "%-20s %8d %7d %8d %6s %9s %12s %6.1f %8.1f %8d %9s\n",
            $1, $2, $3, $4, $5, $8, $9, $10, $11, $12, late
    }' "$TMP/rows"
    echo "CPU per probe, blackbox / twkit: tcp ${R_TCP}x, http ${R_HTTP}x, dns ${R_DNS}x," \
         "icmp ${R_ICMP}x; blackbox / twkit's /probe: tcp ${RP_TCP}x, http ${RP_HTTP}x," \
         "dns ${RP_DNS}x, icmp ${RP_ICMP}x"
    echo
    echo "side by side: $RATE_TCP tcp / $RATE_HTTP http / $RATE_DNS dns / $RATE_ICMP icmp targets at 1 s," \
         "${DURATION} s window;" \
         "standalone: $BIG_TCP tcp / $BIG_HTTPS https targets, ${BIG_DURATION} s window; ${ELAPSED} s in all."
    echo "rate/s, probes, ok %: whole run (summary counts / wall time; blackbox and /probe: the driver's)."
    echo "CPU: the prober process only, user + system, in the steady window after ${WARMUP} s warm-up;"
    echo "  CPU % of one core. RSS: peak (VmHWM). TW left: TIME_WAIT sockets in the run's"
    echo "  namespace at the end of the window. late p99: how late twkit started its probes."
    [ -z "$NOTES" ] || printf 'notes:\n%s' "$NOTES"
}

json() {
    printf '{"bench":"probe_vs_blackbox","duration_s":%d,"big_duration_s":%d,"warmup_s":%d,' \
        "$DURATION" "$BIG_DURATION" "$WARMUP"
    printf '"rate_tcp":%d,"rate_http":%d,"rate_dns":%d,"rate_icmp":%d,"big_tcp":%d,"big_https":%d,' \
        "$RATE_TCP" "$RATE_HTTP" "$RATE_DNS" "$RATE_ICMP" "$BIG_TCP" "$BIG_HTTPS"
    printf '"elapsed_s":%d,"runs":[' "$ELAPSED"
    awk -F'\t' 'function num(x) { return x == "-" ? "null" : x + 0 }
    {
        f = "%s{\"run\":\"%s\",\"kind\":\"%s\",\"prober\":\"%s\",\"targets\":%d,"
        f = f "\"rate_per_s\":%d,\"probes\":%d,\"ok_pct\":%s,\"cpu_s\":%s,\"window_s\":%s,"
        f = f "\"cpu_s_per_1k\":%s,\"probes_per_cpu_s\":%s,\"cpu_pct\":%s,\"rss_mib\":%s,"
        f = f "\"time_wait\":%d,\"late_p99_ms\":%s,\"skipped\":%d,\"local_error\":%d}"
        printf f, (NR > 1 ? "," : ""), $1, $16, $17, $2, $3, $4, num($5), $6 + 0, $7 + 0, num($8),
            num($9), $10 + 0, $11 + 0, $12, num($13), $14, $15
    }' "$TMP/rows"
    printf '],"cpu_ratio_blackbox_over_twkit":{"tcp":%s,"http":%s,"dns":%s,"icmp":%s},' \
        "$([ "$R_TCP" = - ] && echo null || echo "$R_TCP")" \
        "$([ "$R_HTTP" = - ] && echo null || echo "$R_HTTP")" \
        "$([ "$R_DNS" = - ] && echo null || echo "$R_DNS")" \
        "$([ "$R_ICMP" = - ] && echo null || echo "$R_ICMP")"
    printf '"cpu_ratio_blackbox_over_twkit_probe":{"tcp":%s,"http":%s,"dns":%s,"icmp":%s},"notes":[' \
        "$([ "$RP_TCP" = - ] && echo null || echo "$RP_TCP")" \
        "$([ "$RP_HTTP" = - ] && echo null || echo "$RP_HTTP")" \
        "$([ "$RP_DNS" = - ] && echo null || echo "$RP_DNS")" \
        "$([ "$RP_ICMP" = - ] && echo null || echo "$RP_ICMP")"
    printf '%s' "$NOTES" | sed 's/^  //; s/\\/\\\\/g; s/"/\\"/g; s/\t/ /g' |
        awk '{ printf "%s\"%s\"", (NR > 1 ? "," : ""), $0 }'
    printf ']}\n'
}

if [ "$JSON" = 1 ]; then
    table >&2
    json
else
    table
fi
