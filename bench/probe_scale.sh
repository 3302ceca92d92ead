#!/bin/bash
# twkit probe at scale, against floors measured in the same run (make
# bench-probe; root: a network namespace).
#
#   bench/probe_scale.sh [TWKIT_BINARY [BARE_PROBE_BINARY]]
#   ROUNDS=5 SCALE_TCP=20000 SCALE_SECONDS=30 ONCE_TARGETS=40000 bench/probe_scale.sh
#   ROWS="once scale tls" TLS_TARGETS=500 HTTPS_TARGETS=100 TLS_SECONDS=10 (ROWS: which rows run)
#
# Rows, every one ROUNDS times (default 3; the --once row at least 5), the
# configurations of a row in turn within each round, medians:
#   1. --threads scaling: twkit probe --once over ONCE_TARGETS (40,000) tcp
#      targets on loopback addresses whose port refuses (nothing listens on
#      9), --threads 1 against --threads 2: wall time, target >= 1.6x.
#   2. on time at scale: SCALE_TCP (20,000) tcp targets at 1 s on one thread
#      (--threads 1) for SCALE_SECONDS (30) s against twkit serve (twp, which
#      accepts and is reset), and the bare C loop (bench/bare_probe.c:
#      socket, connect, epoll, SO_ERROR, SO_LINGER 0, close, on the same
#      schedule) against the same targets: CPU per probe (user + system of
#      the prober's process over the whole run / probes), twkit over bare,
#      target <= 1.2x; and twkit's late-start p99 (from --summary), target
#      <= 2 ms.
#   3. tls_resumption against nginx (one worker, ECDSA P-256, tickets on):
#      TLS_TARGETS (500) tls targets at 250 ms for TLS_SECONDS (10) s, TLS 1.3
#      (nginx's default psk_dhe_ke: a key exchange still) and TLS 1.2, full
#      handshakes against tls_resumption: true; the prober's CPU per probe,
#      resumed over full, targets <= 0.5x (1.3) and <= 0.2x (1.2), and
#      nginx's own CPU per probe beside it. A resumption run's first probe of
#      each target is full (1 in 40 here): the row is the run's whole mix,
#      with its share of resumed handshakes printed. The same for https (the
#      http kind, GET / through curl, whose session cache keeps the
#      sessions), with HTTPS_TARGETS (100): a full https probe costs twice
#      a tls one, and 2,000 a second would take more than CPU 0. The rate
#      matters on this VM: a CPU woken from idle costs its waker (the IPI
#      and the exit behind it are in the waker's spin_unlock_irqrestore and
#      finish_task_switch), about 120 us per probe at 400 probes a second,
#      the same for a full and a resumed one, which squeezes the ratio; at
#      2,000 a second the CPUs stay busy and a resumed tls probe costs what
#      the bare loop's connection does. Beside them, openssl s_time -new
#      and -reuse with TLS 1.2 on the same CPU against the same nginx
#      (STIME_SECONDS, 3): what OpenSSL's own client saves by resuming, a
#      floor for the TLS 1.2 ratio (its TLS 1.3 -reuse does not resume: it
#      takes the session before the tickets come). And the bare TLS loop
#      (bench/bare_tls.c: OpenSSL and a socket, one connection at a time,
#      the chain verified in a full handshake, the TLS 1.3 tickets awaited
#      as the prober does) full and resumed on the same CPU against the same
#      nginx, TLS 1.3 and 1.2: OpenSSL's own ratio, the floor for both
#      targets, and twkit's CPU per probe over the loop's.
#   4. https (the http kind, full handshakes: nginx with sessions off) with
#      --threads 2 against --threads 1, unpinned: CPU per probe, target
#      <= 1.1x.
# The prober runs on CPU 0, the server on CPU 1 (when there are 2). A fresh
# namespace with only lo in it holds everything, and is deleted at the end.
set -eu
. "$(dirname "$0")/nginx_tls.sh"

TWKIT=${1:-build/twkit}
BARE=${2:-build/bench/twkit-bench-bare-probe}
BARE_TLS=${BARE_TLS:-$(dirname "$BARE")/twkit-bench-bare-tls}
ROUNDS=${ROUNDS:-3}
SCALE_TCP=${SCALE_TCP:-20000}
SCALE_SECONDS=${SCALE_SECONDS:-30}
ONCE_TARGETS=${ONCE_TARGETS:-40000}
ONCE_ROUNDS=$(( ROUNDS < 5 ? 5 : ROUNDS ))
ROWS=${ROWS:-once scale tls}
want() { case " $ROWS " in *" $1 "*) return 0;; esac; return 1; }
NS=twps-$$
TMP=$(mktemp -d /tmp/twkit-probe-scale.XXXXXX)
SRV=""

die() { echo "probe_scale: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (a network namespace)"
[ -x "$TWKIT" ] || die "$TWKIT: not built (make)"
[ -x "$BARE" ] || die "$BARE: not built (make)"
[ -x "$BARE_TLS" ] || die "$BARE_TLS: not built (make)"

cleanup() {
    [ -z "$SRV" ] || kill "$SRV" 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS"
ip -n "$NS" link set lo up
nsx() { ip netns exec "$NS" "$@"; }
CPU0="taskset -c 0"
CPU1="taskset -c 1"
[ "$(nproc)" -ge 2 ] || CPU1=""

# target i: 127.(1 + i/62500).(i/250 % 250).(1 + i%250), never 127.0.0.1
targets() { # N PORT FILE
    awk -v n="$1" -v p="$2" 'BEGIN { for (i = 0; i < n; i++)
        printf "127.%d.%d.%d:%d\n", 1 + int(i / 62500), int(i / 250) % 250, 1 + i % 250, p }' >"$3"
}
jnum() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" "$2" | tail -n 1; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
spread() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }'; }
verdict() { # VALUE OP TARGET
    awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN { ok = op == ">=" ? v >= t : v <= t; print ok ? "met" : "NOT met" }'
}

echo "twkit probe at scale, $(nproc) CPUs, $(uname -r); rounds in turn, medians (spread)"

# ---- 1. --threads 2 against --threads 1, --once over refusing ports ----
if want once; then
targets "$ONCE_TARGETS" 9 "$TMP/once.txt"
printf 'probes:\n  - {name: refused, kind: tcp, targets_file: %s, timeout: 2s}\n' "$TMP/once.txt" >"$TMP/once.yaml"
: >"$TMP/once1" ; : >"$TMP/once2"
for r in $(seq "$ONCE_ROUNDS"); do
    for t in 1 2; do
        nsx "$TWKIT" probe --once --threads "$t" --summary --log /dev/null "$TMP/once.yaml" >"$TMP/o.json" 2>"$TMP/o.err" || true
        f=$(jnum failure "$TMP/o.json")
        [ "${f:-0}" = "$ONCE_TARGETS" ] || die "--once --threads $t: $f refusals of $ONCE_TARGETS: $(cat "$TMP/o.err")"
        jnum wall_s "$TMP/o.json" >>"$TMP/once$t"
    done
done
w1=$(median <"$TMP/once1"); w2=$(median <"$TMP/once2")
sp=$(awk -v a="$w1" -v b="$w2" 'BEGIN { printf "%.2f", a / b }')
printf '\n--once, %d refusing tcp targets (%d rounds):\n' "$ONCE_TARGETS" "$ONCE_ROUNDS"
printf '  --threads 1  %6.3f s (%s)\n  --threads 2  %6.3f s (%s)\n' "$w1" "$(spread <"$TMP/once1")" "$w2" "$(spread <"$TMP/once2")"
printf '  speed-up 2 threads / 1   %sx   target >= 1.6x: %s\n' "$sp" "$(verdict "$sp" '>=' 1.6)"
fi

# ---- 2. 20,000 targets at 1 s on one thread, against the bare loop ----
if want scale; then
targets "$SCALE_TCP" 7070 "$TMP/scale.txt"
printf 'probes:\n  - {name: scale, kind: tcp, targets_file: %s, interval: 1s, timeout: 1s}\n' "$TMP/scale.txt" >"$TMP/scale.yaml"
ip netns exec "$NS" $CPU1 "$TWKIT" serve --proto twp --listen 0.0.0.0:7070 >"$TMP/serve.log" 2>&1 &
SRV=$!
for _ in $(seq 50); do nsx ss -Htln 'sport = :7070' | grep -q . && break; sleep 0.1; done
: >"$TMP/twk" ; : >"$TMP/bare" ; : >"$TMP/late"
for r in $(seq "$ROUNDS"); do
    nsx $CPU0 "$TWKIT" probe --threads 1 --listen off --log /dev/null --duration "${SCALE_SECONDS}s" --summary "$TMP/scale.yaml" >"$TMP/p.json" 2>"$TMP/p.err" || true
    n=$(( $(jnum success "$TMP/p.json") + $(jnum failure "$TMP/p.json") ))
    cpu=$(awk -v u="$(jnum cpu_user_s "$TMP/p.json")" -v s="$(jnum cpu_system_s "$TMP/p.json")" 'BEGIN { print u + s }')
    [ "$n" -gt 0 ] || die "twkit probe made no probe: $(cat "$TMP/p.err")"
    awk -v c="$cpu" -v n="$n" 'BEGIN { printf "%.2f\n", c / n * 1e6 }' >>"$TMP/twk"
    awk -v l="$(jnum p99 "$TMP/p.json")" 'BEGIN { printf "%.3f\n", l / 1000 }' >>"$TMP/late"
    nsx $CPU0 "$BARE" "$TMP/scale.txt" 1000 "$SCALE_SECONDS" >"$TMP/b.json"
    awk -v c="$(jnum cpu_s "$TMP/b.json")" -v n="$(jnum probes "$TMP/b.json")" 'BEGIN { printf "%.2f\n", c / n * 1e6 }' >>"$TMP/bare"
done
kt=$(median <"$TMP/twk"); kb=$(median <"$TMP/bare"); lp=$(median <"$TMP/late")
ra=$(awk -v a="$kt" -v b="$kb" 'BEGIN { printf "%.2f", a / b }')
printf '\n%d tcp targets at 1 s, one thread, %d s (%d rounds):\n' "$SCALE_TCP" "$SCALE_SECONDS" "$ROUNDS"
printf '  twkit probe  %6.2f us CPU per probe (%s)\n  bare C loop  %6.2f us CPU per probe (%s)\n' "$kt" "$(spread <"$TMP/twk")" "$kb" "$(spread <"$TMP/bare")"
printf '  CPU per probe twkit / bare   %sx   target <= 1.2x: %s\n' "$ra" "$(verdict "$ra" '<=' 1.2)"
printf '  late-start p99  %s ms (%s)   target <= 2 ms: %s\n' "$lp" "$(spread <"$TMP/late")" "$(verdict "$lp" '<=' 2)"
fi

# ---- 3. and 4. TLS against nginx (ECDSA P-256): resumption, and threads ----
if want tls; then
command -v nginx >/dev/null || die "nginx: not installed (apt-get install nginx-light; make bench-probe's first part installs it)"
# one worker; 8443 TLS 1.3 only, 8444 TLS 1.2 only, both with tickets (a
# resumption needs them; nginx's default ssl_session_tickets on); 8445 https
# with sessions off, for the --threads row's full handshakes
nginx_tls_conf "$TMP/nginx" bench.twkit 16384 8192 '    ssl_session_cache shared:twkit:4m;
    server { listen 0.0.0.0:8443 ssl backlog=4096; ssl_protocols TLSv1.3; return 200 "ok\n"; }
    server { listen 0.0.0.0:8444 ssl backlog=4096; ssl_protocols TLSv1.2; return 200 "ok\n"; }
    server { listen 0.0.0.0:8445 ssl backlog=4096; ssl_protocols TLSv1.2 TLSv1.3;
             ssl_session_tickets off; return 200 "ok\n"; }'
kill "$SRV" 2>/dev/null || true; wait "$SRV" 2>/dev/null || true
ip netns exec "$NS" $CPU1 nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" </dev/null >/dev/null 2>&1 &
SRV=$!
for _ in $(seq 50); do nsx ss -Htln 'sport = :8445' | grep -q . && break; sleep 0.1; done
nsx ss -Htln 'sport = :8445' | grep -q . || die "nginx did not listen: $(cat "$TMP/nginx/error.log")"
proc_cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # ticks
HZ=$(getconf CLK_TCK)
TLS_TARGETS=${TLS_TARGETS:-500}
HTTPS_TARGETS=${HTTPS_TARGETS:-100}
TLS_SECONDS=${TLS_SECONDS:-10}

# run NAME CONFIG THREADS PIN: prober's and nginx's CPU per probe (us) into
# $TMP/NAME.c and $TMP/NAME.s, the share of resumed handshakes into NAME.r
tls_run() {
    local n0 n1 n cpu res
    n0=$(proc_cpu "$SRV")
    nsx $4 "$TWKIT" probe --threads "$3" --listen off --log-results --log "$TMP/t.log" \
        --duration "${TLS_SECONDS}s" --summary "$2" >"$TMP/t.json" 2>"$TMP/t.err" || true
    n1=$(proc_cpu "$SRV")
    n=$(jnum success "$TMP/t.json")
    [ "${n:-0}" -gt 0 ] && [ "$(jnum failure "$TMP/t.json")" = 0 ] ||
        die "$1: $(jnum failure "$TMP/t.json") failures, ${n:-0} successes: $(grep -m1 '"failure"' "$TMP/t.log") $(cat "$TMP/t.err")"
    cpu=$(awk -v u="$(jnum cpu_user_s "$TMP/t.json")" -v s="$(jnum cpu_system_s "$TMP/t.json")" 'BEGIN { print u + s }')
    awk -v c="$cpu" -v n="$n" 'BEGIN { printf "%.1f\n", c / n * 1e6 }' >>"$TMP/$1.c"
    awk -v d=$((n1 - n0)) -v hz="$HZ" -v n="$n" 'BEGIN { printf "%.1f\n", d / hz / n * 1e6 }' >>"$TMP/$1.s"
    res=$(grep -c '"handshake":"resumed"' "$TMP/t.log" || true)
    awk -v r="$res" -v n="$n" 'BEGIN { printf "%.1f\n", 100 * r / n }' >>"$TMP/$1.r"
    rm -f "$TMP/t.log"
}
tls_yaml() { # FILE PORT KIND-LINE
    awk -v n="$TLS_TARGETS" -v p="$2" 'BEGIN { for (i = 0; i < n; i++)
        printf "127.0.%d.%d:%d\n", 1 + int(i / 250), 1 + i % 250, p }' >"$1.targets"
    printf 'defaults: {interval: 250ms, timeout: 200ms}\nprobes:\n  - {name: t, targets_file: %s, %s}\n' "$1.targets" "$3" >"$1"
}
TLSO="kind: tls, server_name: bench.twkit, ca_file: $TMP/nginx/cert.pem"
tls_yaml "$TMP/t13f.yaml" 8443 "$TLSO"
tls_yaml "$TMP/t13r.yaml" 8443 "$TLSO, tls_resumption: true"
tls_yaml "$TMP/t12f.yaml" 8444 "$TLSO"
tls_yaml "$TMP/t12r.yaml" 8444 "$TLSO, tls_resumption: true"
https_yaml() { # FILE PORT EXTRA-KEYS: the http kind, GET https://.../ (nginx's 200)
    awk -v n="$HTTPS_TARGETS" -v p="$2" 'BEGIN { for (i = 0; i < n; i++)
        printf "https://127.0.%d.%d:%d/\n", 1 + int(i / 250), 1 + i % 250, p }' >"$1.targets"
    printf 'defaults: {interval: 250ms, timeout: 200ms}\nprobes:\n  - {name: h, kind: http, targets_file: %s, ca_file: %s, tls_config: {server_name: bench.twkit}%s}\n' \
        "$1.targets" "$TMP/nginx/cert.pem" "$3" >"$1"
}
https_yaml "$TMP/https.yaml" 8445 ""
https_yaml "$TMP/h13f.yaml" 8443 ""
https_yaml "$TMP/h13r.yaml" 8443 ", tls_resumption: true"
https_yaml "$TMP/h12f.yaml" 8444 ""
https_yaml "$TMP/h12r.yaml" 8444 ", tls_resumption: true"
# stime_run NAME PORT MODE: OpenSSL's own client, openssl s_time -new (full
# handshakes) or -reuse (every connection resumes the first one's session),
# on the same CPU against the same nginx: its CPU per connection (us) into
# $TMP/NAME.c, the reference for what resumption can save with this OpenSSL
# on this kernel (s_time verifies no chain and sends no request)
stime_run() {
    local t n
    t=$( { TIMEFORMAT='%U %S'; time nsx $CPU0 openssl s_time -connect "127.0.0.1:$2" "$3" \
        -time "$STIME_SECONDS" -CAfile "$TMP/nginx/cert.pem" >"$TMP/s.out" 2>&1; } 2>&1 ) ||
        die "openssl s_time $3 :$2: $(tail -2 "$TMP/s.out")"
    n=$(awk '/connections in .* real seconds/ { print $1; exit }' "$TMP/s.out")
    [ "${n:-0}" -gt 0 ] || die "openssl s_time $3 :$2: no connections: $(tail -2 "$TMP/s.out")"
    awk -v t="$t" -v n="$n" 'BEGIN { split(t, a, " "); printf "%.1f\n", (a[1] + a[2]) / n * 1e6 }' >>"$TMP/$1.c"
}
STIME_SECONDS=${STIME_SECONDS:-3}
# bare_run NAME PORT MODE: the bare TLS loop's CPU per connection (us)
bare_run() {
    nsx $CPU0 "$BARE_TLS" "127.0.0.1:$2" bench.twkit "$TMP/nginx/cert.pem" "$STIME_SECONDS" "$3" \
        >"$TMP/bt.json" 2>"$TMP/bt.err" || die "bare TLS loop $3 :$2: $(cat "$TMP/bt.json" "$TMP/bt.err")"
    jnum us_per_conn "$TMP/bt.json" >>"$TMP/$1.c"
}
RES_ROWS="t13f t13r t12f t12r h13f h13r h12f h12r"
for r in $(seq "$ROUNDS"); do
    for c in $RES_ROWS; do tls_run "$c" "$TMP/$c.yaml" 1 "$CPU0"; done
    stime_run s12f 8444 -new; stime_run s12r 8444 -reuse
    bare_run b13f 8443 full; bare_run b13r 8443 resume; bare_run b12f 8444 full; bare_run b12r 8444 resume
    for t in 1 2; do tls_run "https$t" "$TMP/https.yaml" "$t" ""; done
done
printf '\ntls and https probes against nginx (ECDSA P-256, one worker), %d tls and %d https targets at 250 ms, %d s (%d rounds):\n' "$TLS_TARGETS" "$HTTPS_TARGETS" "$TLS_SECONDS" "$ROUNDS"
printf '  %-32s %12s %12s %9s\n' "" "prober us/p" "nginx us/p" "resumed %"
for c in $RES_ROWS; do
    case $c in t*) k="tls  ";; h*) k="https";; esac
    case $c in ?13f) l="TLS 1.3 full";; ?13r) l="TLS 1.3 tls_resumption";; ?12f) l="TLS 1.2 full";; ?12r) l="TLS 1.2 tls_resumption";; esac
    printf '  %-32s %12s %12s %9s\n' "$k $l" "$(median <"$TMP/$c.c")" "$(median <"$TMP/$c.s")" "$(median <"$TMP/$c.r")"
done
for k in t h; do
    for v in 13 12; do
        ra=$(awk -v a="$(median <"$TMP/$k${v}r.c")" -v b="$(median <"$TMP/$k${v}f.c")" 'BEGIN { printf "%.2f", a / b }')
        rs=$(awk -v a="$(median <"$TMP/$k${v}r.s")" -v b="$(median <"$TMP/$k${v}f.s")" 'BEGIN { printf "%.2f", a / b }')
        tg=$([ "$v" = 13 ] && echo 0.5 || echo 0.2)
        printf '  %s TLS 1.%s CPU per probe resumed / full   %sx   target <= %sx: %s   (nginx %sx)\n' \
            "$([ $k = t ] && echo "tls  " || echo https)" "${v#1}" "$ra" "$tg" "$(verdict "$ra" '<=' "$tg")" "$rs"
    done
done
printf '  openssl s_time TLS 1.2: -new %s us/conn, -reuse %s us/conn, reuse / new %sx (OpenSSL itself: a floor for the tls ratio)\n' \
    "$(median <"$TMP/s12f.c")" "$(median <"$TMP/s12r.c")" \
    "$(awk -v a="$(median <"$TMP/s12r.c")" -v b="$(median <"$TMP/s12f.c")" 'BEGIN { printf "%.2f", a / b }')"
for v in 13 12; do
    bf=$(median <"$TMP/b${v}f.c"); br=$(median <"$TMP/b${v}r.c")
    printf '  bare TLS loop TLS 1.%s: full %s us/conn, resumed %s us/conn, resumed / full %sx (OpenSSL'"'"'s floor); tls kind / bare: full %sx, resumed %sx\n' \
        "${v#1}" "$bf" "$br" "$(awk -v a="$br" -v b="$bf" 'BEGIN { printf "%.2f", a / b }')" \
        "$(awk -v a="$(median <"$TMP/t${v}f.c")" -v b="$bf" 'BEGIN { printf "%.2f", a / b }')" \
        "$(awk -v a="$(median <"$TMP/t${v}r.c")" -v b="$br" 'BEGIN { printf "%.2f", a / b }')"
done
h1=$(median <"$TMP/https1.c"); h2=$(median <"$TMP/https2.c")
rh=$(awk -v a="$h2" -v b="$h1" 'BEGIN { printf "%.2f", a / b }')
printf '  https (full handshakes) --threads 1  %s us/probe (%s), --threads 2  %s us/probe (%s)\n' "$h1" "$(spread <"$TMP/https1.c")" "$h2" "$(spread <"$TMP/https2.c")"
printf '  https CPU per probe 2 threads / 1   %sx   target <= 1.1x: %s\n' "$rh" "$(verdict "$rh" '<=' 1.1)"
fi
