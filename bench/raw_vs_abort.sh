#!/bin/sh
# twkit bench --close abort against the raw baseline (plain epoll
# connect/accept/RST, no library code), one after the other in one run, in
# the lab: the library's cost per connection. Usage: raw_vs_abort.sh TWKIT [DUR]
set -eu
twkit=$1
dur=${2:-5}
rate() { "$twkit" bench --lab --quiet --json --duration "$dur" --close "$1" |
         sed -n 's/.*"sessions_per_s":\([0-9.]*\).*/\1/p'; }
raw=$(rate raw)
abort=$(rate abort)
echo "twkit bench --lab, ${dur}s each: raw $raw conn/s, abort $abort conn/s," \
     "abort/raw $(awk -v a="$abort" -v r="$raw" 'BEGIN { printf "%.2f", a / r }')"
