#!/bin/bash
# The client matrix (docs/LAB.md): real HTTP and twp clients against
# `twkit serve` over slow links, in network namespaces (root).
#   tests/matrix/run.sh TWKIT DELAYLINE [--only NAME[,NAME...]] [--jobs N]
#                       [--list] [--keep DIR] [--serve-args ARGS] [-v]
# e.g. tests/matrix/run.sh build/twkit build/tests/delayline --only curl-ka-1mbit
# Debian's python3, not whatever python3 is first on PATH.
exec /usr/bin/python3 "$(dirname "$0")/matrix.py" "$@"
