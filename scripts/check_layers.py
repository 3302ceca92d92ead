#!/usr/bin/python3
"""The layering of src/, checked (docs/DESIGN.md, "Layers").

    scripts/check_layers.py [BUILD_DIR]

Fails (exit 1, one line per problem) when
  - a file includes a folder its layer may not use (LAYERS below);
  - headers include each other in a cycle;
  - with BUILD_DIR: the functions of two object files of libtwkit or of
    one tool call each other in a cycle (nm: who defines what, who uses
    it), however the includes look;
  - a source file under src/ is over MAX_LINES lines.
Public headers (include/twkit/) may be included by every layer but core,
which may use only the few below the loop.
"""
import os
import re
import subprocess
import sys

MAX_LINES = 900

# folder -> the internal folders it may include (besides its own)
LAYERS = {
    "core": set(),
    "event": {"core"},
    "net": {"core", "event"},
    "diag": {"core"},
    "twp": {"core"},
    "http": {"core"},
    "lab": {"core", "diag", "net"},
    "stat": {"core", "diag", "net"},
    "server": {"core", "event", "net", "http", "twp"},
    "client": {"core", "event", "net", "twp"},
    "util": {"core"},
    "bench": {"core", "util", "lab"},
    "probe": {"core", "util"},
    "cli": None,  # the front door: anything
}
CORE_PUBLIC = {"twkit/error.h", "twkit/time.h", "twkit/list.h", "twkit/version.h"}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def sources(top):
    for d, _, files in os.walk(os.path.join(top, "src")):
        for f in sorted(files):
            if f.endswith((".c", ".h")):
                yield os.path.relpath(os.path.join(d, f), top)


def check_includes(top, problems):
    graph = {}
    for path in sources(top):
        layer = path.split(os.sep)[1]
        with open(os.path.join(top, path), errors="replace") as fh:
            text = fh.read()
        if text.count("\n") > MAX_LINES:
            problems.append("%s: %d lines, over %d: split it by job"
                            % (path, text.count("\n"), MAX_LINES))
        allowed = LAYERS.get(layer, set())
        for inc in INCLUDE.findall(text):
            top_dir = inc.split("/")[0]
            if path.endswith(".h"):
                graph.setdefault(path, set()).add(
                    "include/" + inc if top_dir == "twkit" else "src/" + inc)
            if top_dir == "twkit":
                if layer == "core" and inc not in CORE_PUBLIC:
                    problems.append("%s: includes %s: core sits below the loop" % (path, inc))
                continue
            if "/" not in inc:
                continue  # a file next to it
            if allowed is not None and top_dir != layer and top_dir not in allowed:
                problems.append("%s: includes %s: %s may use %s" % (
                    path, inc, layer, ", ".join(sorted(allowed)) or "nothing but itself"))
    for cycle in cycles(graph):
        problems.append("headers include each other: " + " -> ".join(cycle))


def cycles(graph):
    """Each cycle of a directed graph once (Tarjan's strongly connected
    components of more than one node, or a node that reaches itself)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(sorted(comp) + [sorted(comp)[0]])

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def check_calls(build, problems):
    """Function-call cycles between the object files of one target."""
    targets = {}
    for d, _, files in os.walk(build):
        if "CMakeFiles" not in d or "/src/" not in d + "/":
            continue
        for f in files:
            if f.endswith(".o"):
                tgt = d.split("CMakeFiles" + os.sep)[1].split(os.sep)[0]
                targets.setdefault(tgt, []).append(os.path.join(d, f))
    for tgt, objs in sorted(targets.items()):
        defined, used = {}, {}
        for o in objs:
            name = o.split("/src/", 1)[1][:-2]  # src-relative, no .o
            res = subprocess.run(["nm", o], capture_output=True, text=True)
            for line in res.stdout.splitlines():
                parts = line.split()
                if len(parts) == 3 and parts[1] == "T":
                    defined[parts[2]] = name
                elif len(parts) == 2 and parts[0] == "U":
                    used.setdefault(name, set()).add(parts[1])
        graph = {}
        for name, syms in used.items():
            for sym in syms:
                other = defined.get(sym)
                if other and other != name:
                    graph.setdefault(name, set()).add(other)
        for cycle in cycles(graph):
            problems.append("%s: functions call each other across files: %s"
                            % (tgt, " -> ".join(cycle)))


def main():
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    problems = []
    check_includes(top, problems)
    if len(sys.argv) > 1:
        check_calls(sys.argv[1], problems)
    for p in problems:
        print("check_layers: " + p)
    print("check_layers: %s" % ("%d problems" % len(problems) if problems else "ok"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
