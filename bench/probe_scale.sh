#!/bin/bash
# twkit probe at scale, against floors measured in the same run (make
# bench-probe; root: a network namespace).
#
#   bench/probe_scale.sh [TWKIT_BINARY [BARE_PROBE_BINARY]]
#   ROUNDS=5 SCALE_TCP=20000 SCALE_SECONDS=30 ONCE_TARGETS=40000 bench/probe_scale.sh
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
# The prober runs on CPU 0, the server on CPU 1 (when there are 2). A fresh
# namespace with only lo in it holds everything, and is deleted at the end.
set -eu

TWKIT=${1:-build/twkit}
BARE=${2:-build/bench/twkit-bench-bare-probe}
ROUNDS=${ROUNDS:-3}
SCALE_TCP=${SCALE_TCP:-20000}
SCALE_SECONDS=${SCALE_SECONDS:-30}
ONCE_TARGETS=${ONCE_TARGETS:-40000}
ONCE_ROUNDS=$(( ROUNDS < 5 ? 5 : ROUNDS ))
NS=twps-$$
TMP=$(mktemp -d /tmp/twkit-probe-scale.XXXXXX)
SRV=""

die() { echo "probe_scale: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (a network namespace)"
[ -x "$TWKIT" ] || die "$TWKIT: not built (make)"
[ -x "$BARE" ] || die "$BARE: not built (make)"

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

# ---- 2. 20,000 targets at 1 s on one thread, against the bare loop ----
targets "$SCALE_TCP" 7070 "$TMP/scale.txt"
printf 'probes:\n  - {name: scale, kind: tcp, targets_file: %s, interval: 1s, timeout: 1s}\n' "$TMP/scale.txt" >"$TMP/scale.yaml"
nsx $CPU1 "$TWKIT" serve --proto twp --listen 0.0.0.0:7070 >"$TMP/serve.log" 2>&1 &
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
