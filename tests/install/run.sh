#!/bin/sh
# tests/install/run.sh BUILD_DIR SRC_DIR [san]: libtwkit as someone outside this
# tree uses it (ctest install). Installs the build into a throwaway
# DESTDIR, then against what was installed:
#   - the installed headers are exactly include/twkit/*.h and version.h,
#     and each compiles on its own as C and as C++;
#   - `nm -D` of the shared library shows only tw_ names (no tw__);
#   - a C program (shared and static, with pkg-config through
#     PKG_CONFIG_SYSROOT_DIR), a C++ program and a CMake find_package
#     build each run a twp echo round trip ending with BYE/GOODBYE;
#   - the systemd units pass systemd-analyze verify (on a copy whose
#     ExecStart points into the install tree), and the man pages are there;
#   - make uninstall leaves no file behind.
set -eu
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
d=$(mktemp -d /tmp/twkit-install-XXXXXX)
trap 'rm -rf "$d"' EXIT
fail() { echo "install: $*" >&2; exit 1; }
# a sanitizer build's library needs its runtime in the programs too
san=""
[ "${3:-}" = san ] && san="-fsanitize=address,undefined"
CC="cc $san"
CXX="c++ $san"

DESTDIR="$d/root" cmake --install "$build" >"$d/install.log" 2>&1 ||
    { cat "$d/install.log"; fail "cmake --install failed"; }
cp "$build/install_manifest.txt" "$d/manifest"
pc=$(find "$d/root" -name twkit.pc)
[ -n "$pc" ] || fail "no twkit.pc installed"
prefix=$(sed -n 's/^prefix=//p' "$pc")
libdir=$(sed -n 's/^libdir=//p' "$pc")
root="$d/root"
export PKG_CONFIG_SYSROOT_DIR="$root"
export PKG_CONFIG_LIBDIR="$(dirname "$pc"):/usr/lib/x86_64-linux-gnu/pkgconfig:/usr/lib/pkgconfig:/usr/share/pkgconfig"
pkg-config --exists twkit || fail "pkg-config cannot find twkit in $(dirname "$pc")"
[ "$(pkg-config --modversion twkit)" = "$(sed -n 's/^project(twkit VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")" ] ||
    fail "twkit.pc's version is not the project's"

# the headers: exactly the library's
( cd "$src/include/twkit" && ls *.h; echo version.h ) | sort > "$d/want"
( cd "$root$prefix/include/twkit" && ls ) | sort > "$d/got"
diff -u "$d/want" "$d/got" || fail "installed headers differ from include/twkit/*.h + version.h"
for h in $(cat "$d/got"); do
    echo "#include <twkit/$h>" > "$d/h.c"
    $CC -std=gnu11 -Wall -Wextra -Werror -fsyntax-only $(pkg-config --cflags twkit) "$d/h.c" ||
        fail "twkit/$h does not compile on its own (C)"
    $CXX -std=c++17 -Wall -Wextra -Werror -fsyntax-only $(pkg-config --cflags twkit) -x c++ "$d/h.c" ||
        fail "twkit/$h does not compile on its own (C++)"
done
echo "ok: $(wc -l < "$d/got") headers, each compiles alone as C and C++"

# the exported names
so=$(readlink -f "$root$libdir/libtwkit.so")
nm -D --defined-only "$so" | awk '$2 != "A" { print $3 }' > "$d/syms"
bad=$(grep -v '^tw_[a-z0-9]' "$d/syms" || true)
[ -z "$bad" ] || fail "exported names that are not tw_: $(echo $bad | head -c 400)"
echo "ok: nm -D: $(wc -l < "$d/syms") symbols, every one tw_ (no tw__)"

run() { # name: run the built program, print its line
    out=$(LD_LIBRARY_PATH="$root$libdir" timeout 10 "$d/$1") || fail "$1 failed: $out"
    echo "ok: $1: $out"
}
$CC -std=gnu11 -Wall -Wextra -Werror "$src/tests/install/echo_round.c" -o "$d/c-shared" \
    $(pkg-config --cflags --libs twkit)
run c-shared
LD_LIBRARY_PATH="$root$libdir" ldd "$d/c-shared" | grep -q "libtwkit.so.0 => $root" ||
    fail "c-shared does not load the installed libtwkit.so.0"
$CC -std=gnu11 -Wall -Wextra -Werror "$src/tests/install/echo_round.c" -o "$d/c-static" \
    $(pkg-config --cflags twkit) "$root$libdir/libtwkit.a" $(pkg-config --static --libs-only-l twkit | sed 's/-ltwkit//')
ldd "$d/c-static" | grep -q libtwkit && fail "c-static links libtwkit.so"
run c-static
$CXX -std=c++17 -Wall -Wextra -Werror "$src/tests/install/echo_round.cpp" -o "$d/cxx" \
    $(pkg-config --cflags --libs twkit)
run cxx

# the README's program, as the README builds it
sed -n '/^```c hello.c$/,/^```$/p' "$src/README.md" | sed '1d;$d' > "$d/readme-hello.c"
cmp -s "$d/readme-hello.c" "$src/examples/hello.c" || fail "README's hello.c is not examples/hello.c"
$CC "$src/examples/hello.c" $(pkg-config --cflags --libs twkit) -o "$d/hello"
LD_LIBRARY_PATH="$root$libdir" "$d/hello" 127.0.0.1:18089 & hp=$!
body=""
for i in 1 2 3 4 5 6 7 8 9 10; do
    body=$(curl -s http://127.0.0.1:18089/ 2>/dev/null) && [ -n "$body" ] && break
    sleep 0.1
done
kill $hp; wait $hp 2>/dev/null || true
[ "$body" = hello ] || fail "the README's hello server answered '$body'"
echo "ok: the README's hello.c: built with pkg-config, answered curl"

mkdir -p "$d/cm"
cat > "$d/cm/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.20)
project(uses_twkit C)
find_package(twkit 0.1 REQUIRED)
add_executable(cmake-shared $src/tests/install/echo_round.c)
target_link_options(cmake-shared PRIVATE $san)
target_link_libraries(cmake-shared twkit::twkit)
CM
# (libmnl and liburing are found on this system: no sysroot for it)
env -u PKG_CONFIG_SYSROOT_DIR -u PKG_CONFIG_LIBDIR cmake -S "$d/cm" -B "$d/cm/b" -DCMAKE_PREFIX_PATH="$root$prefix" >"$d/cm.log" 2>&1 &&
    cmake --build "$d/cm/b" >>"$d/cm.log" 2>&1 || { cat "$d/cm.log"; fail "find_package(twkit) build"; }
cp "$d/cm/b/cmake-shared" "$d/"
run cmake-shared

# the units and man pages
for u in twkit-probe twkit-stat; do
    f=$(find "$root" -name "$u.service")
    [ -n "$f" ] || fail "$u.service not installed"
    sed "s|$prefix/bin/twkit|$root$prefix/bin/twkit|" "$f" > "$d/$u.service"
    systemd-analyze verify --man=no "$d/$u.service" || fail "systemd-analyze verify $u.service"
done
echo "ok: systemd-analyze verify: twkit-probe.service, twkit-stat.service"
for m in twkit.1 twkit-stat.1 twkit-probe.1 twkit-probe.yml.5 libtwkit.3; do
    [ -n "$(find "$root" -name "$m")" ] || fail "man page $m not installed"
done
[ -n "$(find "$root" -path '*bash-completion/completions/twkit')" ] || fail "no bash completion"
echo "ok: man pages and bash completion installed"

cp "$d/manifest" "$build/install_manifest.txt"
make -s -C "$src" uninstall BUILD="$build" DESTDIR="$root" PREFIX="$prefix" >/dev/null
left=$(find "$root" -type f | head -5)
[ -z "$left" ] || fail "make uninstall left: $left"
echo "ok: make uninstall removed every file"
