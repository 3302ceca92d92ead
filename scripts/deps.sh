#!/bin/sh
# Install the Debian packages twkit builds and tests with.
#   scripts/deps.sh          install whatever is missing (idempotent; needs root)
#   scripts/deps.sh --check  exit 0 if everything is installed, 1 otherwise
set -eu

# liburing-dev: the loop's io_uring backend (src/event/loop_uring.c)
# curl: the HTTP lab tests use it as a real client
# libyaml, PCRE2, libcurl (OpenSSL), c-ares, OpenSSL, zlib (gzip for /metrics,
# and compression), brotli, jansson: twkit probe; nghttp2-server (nghttpd):
# its lab tests' HTTP/2 target
# nftables: the probe tests drop a lab address's packets
# prometheus: promtool and a real Prometheus scraping twkit probe in the tests
# prometheus-blackbox-exporter, dnsmasq-base: /probe is tested side by side
# with the real blackbox_exporter, names resolved by a real DNS server
# wget, apache2-utils (ab), nghttp2-client (h2load), python3 (Debian's, for the
# scripted clients): the real HTTP clients of the client matrix (tests/matrix);
# iputils-ping: the matrix checks its delay line's RTT
# chromium (Debian's, headless), python3-html5lib, fonts-dejavu-core: the
# status page's lab test looks at the page in a real browser at 1280 and
# 390 px and parses it as HTML5; scripts/status_screenshots.sh makes the
# docs' screenshots with it. chromium is large: about 350 MB installed,
# with its libraries
# libsqlite3-dev: twkit probe's uptime history (history: in the config) and
# its SLA report, SQLite embedded in WAL mode
# prometheus-alertmanager, python3-aiosmtpd: the notification tests' real
# Alertmanager (its API must show an alert firing, then resolved) and SMTP
# receiver (tests/lab/notify_receiver.py, run with Debian's /usr/bin/python3)
# mandoc: ctest man_pages lints the man pages (man/) with mandoc -Tlint
# abigail-tools, g++, systemd: ctest abi compares libtwkit with its baseline
# (abidiff), ctest install builds a C++ program on the installed headers and
# runs systemd-analyze verify on the units
PKGS="build-essential cmake pkg-config clang iproute2 curl libcriterion-dev libmnl-dev
      liburing-dev
      libyaml-dev libpcre2-dev libcurl4-openssl-dev libc-ares-dev libssl-dev zlib1g-dev
      libbrotli-dev libjansson-dev libsqlite3-dev openssl nftables prometheus
      prometheus-blackbox-exporter
      dnsmasq-base nghttp2-server wget apache2-utils nghttp2-client python3 iputils-ping
      chromium python3-html5lib fonts-dejavu-core prometheus-alertmanager python3-aiosmtpd
      mandoc abigail-tools g++ systemd"

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
        *" installed") ;;
        *) missing="$missing $p" ;;
    esac
done

if [ "${1:-}" = "--check" ]; then
    [ -z "$missing" ] && exit 0
    echo "deps: missing:$missing" >&2
    exit 1
fi

[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "deps: need root to install:$missing (run: apt-get install$missing)" >&2
        exit 1
    fi
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet; refresh once, then retry.
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing ||
    { $SUDO apt-get update -q && $SUDO apt-get install -y -q --no-install-recommends $missing; }
