#!/bin/bash
# Debian packages of twkit (debian/), their version taken from
# project(twkit VERSION x.y.z) in CMakeLists.txt.
#   scripts/deb.sh build OUTDIR     stage the tree in OUTDIR/src, write its
#                                   debian/changelog, dpkg-buildpackage -b
#                                   -us -uc there, leave the .deb, .changes
#                                   and .buildinfo files in OUTDIR (make deb)
#   scripts/deb.sh changelog [DIR]  write DIR/debian/changelog (default: this
#                                   tree, for a direct dpkg-buildpackage)
#   scripts/deb.sh version          print the package version
# DEB_REVISION (default 1) is the Debian revision; JOBS the build's -j.
# debian/changelog is never checked in: debian/changelog.in is its template,
# so the package version cannot drift from the project's.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
upstream=$(sed -n 's/^project(twkit VERSION \([0-9][0-9.]*\)[ )].*/\1/p' "$top/CMakeLists.txt")
[ -n "$upstream" ] || { echo "deb: no project(twkit VERSION x.y.z) in CMakeLists.txt" >&2; exit 1; }
revision=${DEB_REVISION:-1}
version=$upstream-$revision

changelog() { # DIR: DIR/debian/changelog from the template
    local t
    # the date of the last commit (reproducible), else SOURCE_DATE_EPOCH, else now
    t=$(git -C "$top" log -1 --format=%ct 2>/dev/null || true)
    t=${SOURCE_DATE_EPOCH:-${t:-$(date +%s)}}
    sed -e "s/@VERSION@/$upstream/g" -e "s/@REVISION@/$revision/g" \
        -e "s/@DATE@/$(LC_ALL=C date -u -R -d "@$t")/" \
        "$top/debian/changelog.in" > "$1/debian/changelog"
    # the check dpkg itself will make
    got=$(cd "$1" && dpkg-parsechangelog -S Version)
    [ "$got" = "$version" ] || { echo "deb: changelog says $got, not $version" >&2; exit 1; }
}

stage() { # DIR: a copy of the tree's sources (what git tracks or would track)
    mkdir -p "$1"
    if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
        (cd "$top" && git ls-files -z --cached --others --exclude-standard |
            while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
            tar --null -T - -cf -) | tar -xf - -C "$1"
    else
        (cd "$top" && tar --exclude=./build --exclude='./build-*' --exclude=./.git \
            --exclude=./debian/changelog -cf - .) | tar -xf - -C "$1"
    fi
    rm -f "$1/debian/changelog"
}

build() { # OUTDIR
    local out src start
    start=$(date +%s)
    mkdir -p "$1"
    out=$(cd "$1" && pwd)
    src=$out/src/twkit-$upstream
    rm -rf "$out/src" "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo "$out/build.log"
    stage "$src"
    changelog "$src"
    if ! (cd "$src" && dpkg-checkbuilddeps 2>/dev/null); then
        echo "deb: installing the build dependencies (apt-get build-dep)"
        [ "$(id -u)" -eq 0 ] && sudo= || sudo=sudo
        DEBIAN_FRONTEND=noninteractive $sudo apt-get build-dep -y -q --no-install-recommends "$src" ||
            { $sudo apt-get update -q &&
              DEBIAN_FRONTEND=noninteractive $sudo apt-get build-dep -y -q --no-install-recommends "$src"; }
    fi
    echo "deb: building twkit $version in $src (log: $out/build.log)"
    if ! (cd "$src" && dpkg-buildpackage -b -us -uc -j"${JOBS:-2}") > "$out/build.log" 2>&1; then
        tail -n 40 "$out/build.log" >&2
        echo "deb: dpkg-buildpackage failed; the tree is $src, the log $out/build.log" >&2
        exit 1
    fi
    mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out"/
    rm -rf "$out/src"
    echo "deb: twkit $version in $(($(date +%s) - start)) s; the packages are in $out:"
    (cd "$out" && ls -1 ./*.deb ./*.changes | sed 's|^\./|  |')
    echo "deb: install them with: sudo dpkg -i $1/*.deb && sudo apt-get -f install"
}

case "${1:-}" in
    build) build "${2:?deb: build OUTDIR}" ;;
    changelog) changelog "${2:-$top}"; echo "deb: ${2:-$top}/debian/changelog: $version" ;;
    version) echo "$version" ;;
    *) sed -n '2,12s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
