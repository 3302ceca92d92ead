#!/bin/sh
# tests/install/abi.sh BUILD_DIR SRC_DIR [--write]: the shared library's ABI
# against the baseline of its SONAME, abi/<SONAME>.abi (docs/DESIGN.md,
# "ABI"). Any difference fails: an ABI change needs a new SONAME
# (TW_SOVERSION in CMakeLists.txt) and its baseline, written with
# `make abi-baseline` (--write). That never overwrites a baseline with an
# incompatible change (abidiff's ABIDIFF_ABI_INCOMPATIBLE_CHANGE, 8): only
# a compatible one (a function added, reserved room taken) may update the
# baseline of a SONAME in place; anything else is a new SONAME.
set -eu
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
so=$(readlink -f "$build/libtwkit.so")
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
base="$src/abi/$soname.abi"
hd="--headers-dir $src/include/twkit --headers-dir $build/include/twkit"
if [ "${3:-}" = --write ]; then
    if [ -e "$base" ]; then
        rc=0
        abidiff --hd2 "$src/include/twkit" --hd2 "$build/include/twkit" "$base" "$so" >/dev/null 2>&1 || rc=$?
        if [ $((rc & 8)) -ne 0 ] || [ $((rc & 3)) -ne 0 ]; then
            echo "abi: an incompatible change against $base (abidiff exit $rc): bump TW_SOVERSION first" >&2
            exit 1
        fi
        [ "$rc" -eq 0 ] && { echo "abi: $base already matches"; exit 0; }
        echo "abi: a compatible change (abidiff exit $rc): $base updated"
    fi
    mkdir -p "$src/abi"
    abidw --no-corpus-path $hd "$so" --out-file "$base"
    echo "abi: wrote $base"
    exit 0
fi
[ -f "$base" ] || { echo "abi: no baseline for $soname ($base): make abi-baseline" >&2; exit 1; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if abidiff --hd2 "$src/include/twkit" --hd2 "$build/include/twkit" "$base" "$so" >"$out" 2>&1; then
    echo "ok: abidiff: $soname matches abi/$soname.abi"
    exit 0
fi
cat "$out"
echo "abi: libtwkit's ABI differs from abi/$soname.abi (above). Keep it, or bump" >&2
echo "abi: TW_SOVERSION in CMakeLists.txt and run make abi-baseline in the same commit." >&2
exit 1
