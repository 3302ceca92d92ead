#!/bin/bash
# make deb-test: install the packages make deb built into a fresh Debian 12
# (bookworm) minbase chroot and check them there.
#   scripts/deb-test.sh DEB_DIR     (root)
#
# The pristine chroot (debootstrap --variant=minbase bookworm) is made once
# and kept as a tarball in CACHE (/var/cache/twkit-deb-test); each run
# extracts a fresh copy into a temp dir, mounts /proc in it (and nothing
# else from the host), and removes it all on exit, failure or not. apt's
# package lists and downloaded .debs are copied in and back out of CACHE/apt
# so a warm run downloads nothing new; the tarball itself never changes.
#
# In the chroot: dpkg -i the .debs, apt-get -f install; twkit version and
# twkit demo --help; the units are installed but not enabled, probe.yml is a
# conffile; gcc and pkg-config from apt, then tests/install/echo_round.c
# built with cc $(pkg-config --cflags --libs twkit) against the installed
# libtwkit.so.0 and run (a twp echo round trip on loopback: the chroot
# shares the host's network namespace and its lo).
#
# CACHE (default /var/cache/twkit-deb-test) and MIRROR
# (http://deb.debian.org/debian) may be set in the environment;
# DEB_TEST_REFRESH=1 remakes the tarball.
set -euo pipefail

deb_dir=${1:?usage: scripts/deb-test.sh DEB_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${CACHE:-/var/cache/twkit-deb-test}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
tarball=$CACHE/$SUITE-minbase.tar.gz
start=$(date +%s)

# fd 3: the caller's stderr, also from a trap that runs inside a redirection
exec 3>&2
say() { echo "deb-test: $*"; }
die() { echo "deb-test: FAIL: $*" >&3; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot, mount)"
for t in debootstrap chroot mount umount tar; do
    command -v "$t" >/dev/null || die "$t is missing (apt-get install debootstrap)"
done
deb_dir=$(cd "$deb_dir" && pwd)
debs=("$deb_dir"/*.deb)
[ -e "${debs[0]}" ] || die "no .deb in $deb_dir (make deb)"

# Unmount everything mounted at or under $1, deepest first, then remove it
# (never across a mount that would not go: rm stays on one file system).
scrub() {
    local dir=$1 m
    [ -n "$dir" ] && [ -d "$dir" ] || return 0
    dir=$(cd "$dir" && pwd -P)
    # field 5 of mountinfo is the mount point
    for m in $(awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' \
                   /proc/self/mountinfo | sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m" || true
    done
    if awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { f = 1 } END { exit !f }' \
           /proc/self/mountinfo; then
        echo "deb-test: still mounted under $dir; not removing it" >&3
        return 1
    fi
    rm -rf --one-file-system "$dir"
}

tmp=
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$tmp" ]; then scrub "$tmp" || rc=1; fi
    [ "$rc" -eq 0 ] || echo "deb-test: failed (exit $rc) after $(($(date +%s) - start)) s" >&3
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

tmp=$(mktemp -d "${TMPDIR:-/tmp}/twkit-deb-test.XXXXXX")
root=$tmp/root

# ---- the pristine chroot, once ------------------------------------------
mkdir -p "$CACHE/apt/lists" "$CACHE/apt/archives"
exec 9>"$CACHE/lock"
flock 9 # one run at a time makes and uses the cache
if [ ! -f "$tarball" ] || [ "${DEB_TEST_REFRESH:-0}" = 1 ]; then
    say "no $tarball: debootstrap --variant=minbase $SUITE (once; about a minute)"
    t0=$(date +%s)
    mkdir "$tmp/boot"
    debootstrap --variant=minbase "$SUITE" "$tmp/boot" "$MIRROR" > "$tmp/debootstrap.log" 2>&1 ||
        { tail -n 20 "$tmp/debootstrap.log" >&2; die "debootstrap failed"; }
    tar -C "$tmp/boot" --numeric-owner -czf "$tarball.new" .
    mv "$tarball.new" "$tarball"
    scrub "$tmp/boot"
    say "pristine chroot: $tarball ($(du -h "$tarball" | cut -f1)) in $(($(date +%s) - t0)) s"
fi

# ---- a fresh copy ----------------------------------------------------------
mkdir "$root"
tar -C "$root" --numeric-owner -xzf "$tarball"
cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
cp -a "$CACHE/apt/lists/." "$root/var/lib/apt/lists/"
cp -a "$CACHE/apt/archives/." "$root/var/cache/apt/archives/"
mkdir "$root/tmp/twkit"
cp "${debs[@]}" "$root/tmp/twkit/"
cp "$top/tests/install/echo_round.c" "$root/tmp/twkit/"
mount -t proc proc "$root/proc"
say "fresh $SUITE chroot in $root ($(($(date +%s) - start)) s)"

# in the chroot: a clean environment, no questions asked
inchroot() {
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
        DEBIAN_FRONTEND=noninteractive chroot "$root" "$@"
}
apt_install() { # apt-get ARGS..., refreshing the lists once if that fails
    inchroot apt-get -q -y --no-install-recommends "$@" ||
        { inchroot apt-get -q update && inchroot apt-get -q -y --no-install-recommends "$@"; }
}
save_apt() { # the lists and downloads back into the cache, for the next run
    cp -a "$root/var/lib/apt/lists/." "$CACHE/apt/lists/"
    cp -a "$root/var/cache/apt/archives/"*.deb "$CACHE/apt/archives/" 2>/dev/null || true
}
# a pristine debootstrap has no package lists yet
[ -n "$(ls "$root/var/lib/apt/lists/" | grep -v -e '^lock$' -e '^partial$' || true)" ] ||
    inchroot apt-get -q update

# ---- install ----------------------------------------------------------------
names=$(for d in "${debs[@]}"; do basename "$d"; done | tr '\n' ' ')
say "dpkg -i $names"
inchroot sh -c 'dpkg -i /tmp/twkit/*.deb' > "$tmp/dpkg.log" 2>&1 ||
    say "dpkg -i left dependencies to apt (expected in a minbase chroot)"
say "apt-get -f install"
apt_install -f install > "$tmp/apt.log" 2>&1 || { cat "$tmp/dpkg.log" "$tmp/apt.log" >&2; die "apt-get -f install"; }
for d in "${debs[@]}"; do
    p=$(dpkg-deb -f "$d" Package)
    st=$(inchroot dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$st" = "install ok installed" ] || { cat "$tmp/apt.log" >&2; die "$p: '$st'"; }
done
say "installed: $(inchroot dpkg-query -W -f='${Package} ${Version}\n' twkit libtwkit0 libtwkit-dev | tr '\n' ' ')"

# ---- the binary ---------------------------------------------------------------
v=$(inchroot twkit version) || die "twkit version"
say "twkit version: $v"
inchroot twkit demo --help > "$tmp/demo-help" 2>&1 || { cat "$tmp/demo-help" >&2; die "twkit demo --help"; }
say "twkit demo --help: $(head -n 1 "$tmp/demo-help")"
inchroot dpkg-query -W -f='${Conffiles}\n' twkit | grep -q ' /etc/twkit/probe.yml ' ||
    die "/etc/twkit/probe.yml is not a conffile"
for u in twkit-probe twkit-stat; do
    [ -f "$root/lib/systemd/system/$u.service" ] || die "$u.service not installed"
    ! ls "$root"/etc/systemd/system/*.wants/"$u.service" >/dev/null 2>&1 ||
        die "$u.service was enabled on install"
done
say "units installed, not enabled; /etc/twkit/probe.yml is a conffile"

# ---- the library ----------------------------------------------------------------
say "apt-get install gcc libc6-dev pkg-config"
apt_install install gcc libc6-dev pkg-config > "$tmp/apt-cc.log" 2>&1 ||
    { cat "$tmp/apt-cc.log" >&2; die "apt-get install gcc pkg-config"; }
save_apt
flags=$(inchroot pkg-config --cflags --libs twkit) || die "pkg-config twkit"
say "pkg-config --cflags --libs twkit: $flags"
inchroot sh -c 'cd /tmp/twkit && cc -Wall -Werror -o echo_round echo_round.c $(pkg-config --cflags --libs twkit)' ||
    die "cc echo_round.c against the installed libtwkit"
# /lib is /usr/lib in bookworm (merged /usr): either path is the package's
lib=$(inchroot ldd /tmp/twkit/echo_round | grep 'libtwkit\.so\.0 => ' || true)
echo "$lib" | grep -Eq '=> (/usr)?/lib/[^/]+/libtwkit\.so\.0 ' ||
    die "echo_round is not linked against the installed libtwkit.so.0: ${lib:-not at all}"
say "echo_round links${lib% (*}"
out=$(inchroot timeout 30 /tmp/twkit/echo_round) || die "echo_round: ${out:-no output}"
say "echo_round: $out"

say "PASS in $(($(date +%s) - start)) s"
