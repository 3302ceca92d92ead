#!/bin/sh
# twkit bench --close abort against two baselines with no library code (plain
# epoll on both sides), in the lab, in turns so that the noise of a shared
# machine falls on all three alike:
#   raw          connect, accept, RST: no request at all
#   raw-request  the same with abort's one request echoed before the RST
# abort/raw-request is the library's cost; abort/raw also counts what one
# request and reply cost the kernel. Usage: raw_vs_abort.sh TWKIT [DUR] [ROUNDS]
set -eu
twkit=$1
dur=${2:-3}
rounds=${3:-3}
rate() { "$twkit" bench --lab --quiet --json --duration "$dur" --close "$1" |
         sed -n 's/.*"sessions_per_s":\([0-9.]*\).*/\1/p'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
all=""
i=1
while [ "$i" -le "$rounds" ]; do
    raw=$(rate raw)
    req=$(rate raw-request)
    abort=$(rate abort)
    echo "round $i (${dur}s each): raw $raw, raw-request $req, abort $abort conn/s;" \
         "abort/raw $(ratio "$abort" "$raw"), abort/raw-request $(ratio "$abort" "$req")"
    all="$all $(ratio "$abort" "$raw"):$(ratio "$abort" "$req")"
    i=$((i + 1))
done
# the median round by abort/raw
echo "$all" | tr ' ' '\n' | sed '/^$/d' | sort -n | awk -F: '
    { a[NR] = $1; b[NR] = $2 }
    END { m = int((NR + 1) / 2); printf "median: abort/raw %s, abort/raw-request %s\n", a[m], b[m] }'
