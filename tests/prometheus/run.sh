#!/bin/sh
# ctest prometheus_rules: the alert rules and the dashboard of contrib/prometheus.
#   tests/prometheus/run.sh PROMTOOL CONTRIB_DIR WORK_DIR
# PROMTOOL is what CMake's find_program found (PROMTOOL-NOTFOUND if nothing
# when it configured); it is looked up on PATH again, so installing promtool
# after configuring is enough. Without promtool the test fails: it is a
# dependency (Debian's prometheus package, scripts/deps.sh), not optional.
#
# 1. promtool check rules, promtool test rules (contrib/prometheus/*.rules.*).
# 2. The `for:` convention of the rules file: every for: alone on its line,
#    `for: <n><s|m|h>`; after scaling them all to 1s the file still checks.
# 3. dashboard-exprs: valid JSON, every panel has a target with an expr
#    (--check); one printed line per target with an expr, counted here
#    independently; every printed expr parses. promtool 2.42 has no offline
#    expression parser, so each is made a recording rule of a rule file and
#    that file goes through `promtool check rules`, which parses every expr.
#    Also with --interval 5s, and a variable outside a regex matcher must be
#    refused.
set -eu

promtool=$1 dir=$2 work=$3
case "$promtool" in
    *NOTFOUND* | "") promtool=$(command -v promtool || true) ;;
esac
if [ -z "$promtool" ] || [ ! -x "$promtool" ]; then
    echo "prometheus_rules: FAIL: promtool not found. It comes with Debian's prometheus" >&2
    echo "package: run scripts/deps.sh (or apt-get install prometheus), then ctest again." >&2
    exit 1
fi
PY=/usr/bin/python3
rules=$dir/twkit-stat.rules.yml
mkdir -p "$work"
fail() { echo "prometheus_rules: FAIL: $*" >&2; exit 1; }

echo "== $promtool ($("$promtool" --version 2>&1 | head -1))"
"$promtool" check rules "$rules" || fail "promtool check rules $rules"
# test rules resolves rule_files relative to the test file
"$promtool" test rules "$dir/twkit-stat.rules.test.yml" || fail "promtool test rules"

echo "== the for: convention"
n_for=$(grep -c 'for:' "$rules" | tr -d ' ')
n_for_comments=$(grep -c '^ *#.*for:' "$rules" | tr -d ' ')
n_ok=$(grep -cE '^ *for: [0-9]+[smh]$' "$rules" | tr -d ' ')
[ "$n_ok" -gt 0 ] || fail "no for: line in $rules"
[ "$n_ok" -eq $((n_for - n_for_comments)) ] ||
    fail "$rules: $((n_for - n_for_comments)) for: lines outside comments, only $n_ok of the form 'for: <n><s|m|h>' alone on the line"
sed -E 's/^( *)for: [0-9]+[smh]$/\1for: 1s/' "$rules" >"$work/scaled.rules.yml"
[ "$(grep -cE '^ *for: 1s$' "$work/scaled.rules.yml")" -eq "$n_ok" ] || fail "scaling the for: lines"
"$promtool" check rules "$work/scaled.rules.yml" >/dev/null || fail "the scaled rules do not check"
echo "$n_ok for: lines, scaled to 1s: check rules ok"

echo "== the dashboard"
dash=$dir/twkit-stat-dashboard.json
exprs=$dir/dashboard-exprs
[ -x "$exprs" ] || fail "$exprs is not executable"
"$exprs" --check "$dash" || fail "dashboard-exprs --check"
targets=$("$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
def walk(ps):
    for p in ps:
        yield p
        yield from walk(p.get("panels") or [])
print(sum(1 for p in walk(d["panels"]) if p.get("type") != "row"
          for t in p.get("targets") or [] if (t.get("expr") or "").strip()))
' "$dash")
for iv in 1m 5s; do
    "$exprs" --interval "$iv" "$dash" >"$work/exprs-$iv.txt" || fail "dashboard-exprs --interval $iv"
    lines=$(wc -l <"$work/exprs-$iv.txt" | tr -d ' ')
    [ "$lines" -eq "$targets" ] || fail "dashboard-exprs printed $lines lines for $targets targets"
    if grep -n '\$' "$work/exprs-$iv.txt"; then fail "a \$ left in the exprs (above)"; fi
    grep -q "\[$iv\]" "$work/exprs-$iv.txt" || fail "--interval $iv: no [$iv] in the exprs"
    "$PY" -c '
import json, sys
rules = [{"record": "dashboard_expr_%d" % i, "expr": e.rstrip("\n")}
         for i, e in enumerate(open(sys.argv[1]), 1)]
json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, open(sys.argv[2], "w"), indent=1)
' "$work/exprs-$iv.txt" "$work/exprs-$iv.rules.json"
    # a JSON document is YAML too
    "$promtool" check rules "$work/exprs-$iv.rules.json" ||
        fail "an expr of the dashboard does not parse (--interval $iv; $work/exprs-$iv.txt)"
    echo "$lines exprs, --interval $iv: all parse"
done

# the script must refuse a variable where .* would not mean "any"
"$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
d["panels"] = [{"id": 1, "type": "timeseries", "title": "bad",
                "targets": [{"refId": "A", "expr": "twkit_stat_up{instance=\"$instance\"}"}]}]
json.dump(d, open(sys.argv[2], "w"))
' "$dash" "$work/bad-dashboard.json"
if "$exprs" "$work/bad-dashboard.json" >/dev/null 2>"$work/bad.err"; then
    fail "dashboard-exprs took \$instance in an = matcher"
fi
grep -q 'outside a regex matcher' "$work/bad.err" || fail "dashboard-exprs: $(cat "$work/bad.err")"
echo "prometheus_rules: ok"
