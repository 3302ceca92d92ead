#!/bin/bash
# Run libFuzzer harnesses over their seed corpora and print one line each.
#
#   tests/fuzz/run.sh TESTS_DIR SECONDS [NAME...]
#
# TESTS_DIR holds the fuzz_NAME binaries (build/tests); with no NAME, every
# harness listed in TESTS_DIR/fuzzers.txt (written by CMake). Each runs
# SECONDS over tests/fuzz/corpus/NAME (read-only) with new inputs going to
# TESTS_DIR/corpus-new-NAME (emptied first); its whole output is kept in
# TESTS_DIR/fuzz_NAME.log. JOBS=N (environment, default 1) runs N at once.
# A crash, leak, timeout or out-of-memory input is left as
# TESTS_DIR/crash-NAME-*, leak-NAME-*... (replay: fuzz_NAME FILE) and fails
# the run (exit 1).
set -u
dir=$(cd "$1" && pwd) secs=$2
shift 2
src=$(cd "$(dirname "$0")" && pwd)
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    read -r -a names < <(tr ';' ' ' < "$dir/fuzzers.txt")
fi
jobs=${JOBS:-1}

one() {
    local n=$1 log=$dir/fuzz_$1.log rc
    rm -rf "$dir/corpus-new-$n" && mkdir -p "$dir/corpus-new-$n"
    (cd "$dir" && exec "./fuzz_$n" -max_total_time="$secs" -timeout=5 -rss_limit_mb=1024 \
        -print_final_stats=1 -artifact_prefix="$dir/" "corpus-new-$n" "$src/corpus/$n") \
        > "$log" 2>&1
    rc=$?
    # libFuzzer names artifacts crash-SHA1 etc.; give them the harness's name
    for f in "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-*; do
        [ -e "$f" ] || continue
        b=$(basename "$f")
        case $b in *-"$n"-*) continue ;; esac
        grep -q "$b" "$log" && mv "$f" "$dir/${b%%-*}-$n-${b#*-}"
    done
    echo "$rc" > "$dir/fuzz_$n.rc"
}

running=0
for n in "${names[@]}"; do
    [ -x "$dir/fuzz_$n" ] || { echo "run.sh: no $dir/fuzz_$n (build first)" >&2; exit 2; }
    one "$n" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done
wait

fail=0
printf '%-10s %8s %12s %10s %10s  %s\n' harness seconds executions "exec/s" "new units" result
for n in "${names[@]}"; do
    log=$dir/fuzz_$n.log rc=$(cat "$dir/fuzz_$n.rc")
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    new=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -n 1)
    if [ "$rc" = 0 ]; then res=ok; else res="FAILED (exit $rc, see $log)"; fail=1; fi
    printf '%-10s %8s %12s %10s %10s  %s\n' "$n" "$secs" "${runs:-?}" "${eps:-?}" \
        "${new:-?}" "$res"
    if [ "$rc" != 0 ]; then
        grep -E "ERROR|SUMMARY|fuzz_$n:|Test unit written" "$log" | head -n 20 | sed 's/^/    /'
    fi
done
exit $fail
