# twkit front door. CMake does the building; this file only picks the build
# directory, makes sure the Debian dependencies are there, and names the jobs.
#
#   make            build libtwkit (static + shared), the twkit binary, tests, examples
#   make test       build and run the whole test suite through ctest
#   make test SAN=1 the same with AddressSanitizer + UBSan
#   make test LOOP=io_uring  the whole suite with TWKIT_LOOP=io_uring exported:
#                   every loop made with tw_loop_new() runs on io_uring
#                   (LOOP=epoll or unset: the default, epoll)
#   make demo       build and run the demo
#   make bench      build and run the benchmarks
#   make bench-http twkit serve --proto http against nginx, with wrk (root)
#   make bench-probe twkit probe against prometheus-blackbox-exporter (root),
#                   its scale (--threads, 20,000 targets against a bare C loop),
#                   then bench-store
#   make bench-store the uptime history's cost at 20,000 results/s and its disk
#                   per 1,000 targets (twkit-bench-store; about a minute)
#   make fuzz       run every fuzz harness for FUZZ_SECONDS each (default 300)
#   make soak       the ASan twkit serve (twp, http) under hostile and good load for
#                   SOAK_SECONDS (default 600), then back to baseline (root; docs/SOAK.md)
#   make install    PREFIX (/usr/local) and DESTDIR as usual: the binary, libtwkit
#                   (.so and .a), its headers, twkit.pc, the CMake package, man
#                   pages, systemd units, bash completion
#   make uninstall  remove what make install installed (the same PREFIX, DESTDIR)
#   make abi-baseline  write abi/<SONAME>.abi after a new SONAME or a compatible
#                   ABI change (make test compares the library with it)
#   make deb        the Debian packages twkit, libtwkit0, libtwkit-dev (debian/),
#                   version from project(twkit VERSION) here, into DEB_DIR
#                   (build/deb); not part of make test
#   make deb-lint   lintian on them
#   make deb-test   install them into a fresh Debian 12 chroot and check the
#                   binary and the library there (root; scripts/deb-test.sh)
#   make deb-changelog  write debian/changelog, for a direct dpkg-buildpackage
#   make clean      remove build directories

SAN ?= 0
LOOP ?=
ifneq ($(LOOP),)
export TWKIT_LOOP := $(LOOP)
endif
MAKEFLAGS += --no-print-directory
CC ?= cc
ifeq ($(SAN),1)
BUILD ?= build-san
CMAKE_FLAGS += -DTW_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
else
BUILD ?= build
CMAKE_FLAGS += -DCMAKE_BUILD_TYPE=RelWithDebInfo
endif
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
TWKIT = $(BUILD)/twkit

.PHONY: all deps configure test demo bench bench-http bench-probe bench-store fuzz soak clean

all: configure
	@cmake --build $(BUILD) -j $(JOBS)

# deps.sh --check is a quick dpkg query; the install runs only when it fails.
deps:
	@scripts/deps.sh --check 2>/dev/null || scripts/deps.sh

configure: deps
	@if [ ! -f $(BUILD)/CMakeCache.txt ]; then \
		cmake -S . -B $(BUILD) -DCMAKE_C_COMPILER=$(CC) $(CMAKE_FLAGS); fi

test: all
	@$(if $(LOOP),echo "make test: TWKIT_LOOP=$(LOOP)";) \
		cd $(BUILD) && ctest --output-on-failure --timeout 600; rc=$$?; \
		grep -h 'Synthesis:' Testing/Temporary/LastTest.log; \
		exit $$rc

demo: all
	@$(TWKIT) demo

bench: all
	@$(BUILD)/bench/twkit-bench-loop
	@$(BUILD)/bench/twkit-bench-twp
	@$(BUILD)/bench/twkit-bench-stat $(BUILD)/twkit
	@bench/raw_vs_abort.sh $(BUILD)/twkit

bench-http: all
	@bench/http_vs_nginx.sh $(TWKIT)

bench-probe: all
	@bench/probe_vs_blackbox.sh $(TWKIT)
	@bench/probe_scale.sh $(TWKIT) $(BUILD)/bench/twkit-bench-bare-probe
	@$(BUILD)/bench/twkit-bench-store

bench-store: all
	@$(BUILD)/bench/twkit-bench-store

FUZZ_SECONDS ?= 300
fuzz: all
	@JOBS=$(JOBS) tests/fuzz/run.sh $(BUILD)/tests $(FUZZ_SECONDS)

# Always the ASan + UBSan build (build-san), whatever SAN says: the soak is
# there to catch what only a sanitizer sees. Not part of make test.
soak:
	@$(MAKE) SAN=1 BUILD=build-san all
	@bench/soak.sh build-san/twkit

clean:
	rm -rf build build-san build-*

PREFIX ?= /usr/local

.PHONY: install uninstall abi-baseline
# the ABI baseline of the library's SONAME (tests/install/abi.sh, docs/DESIGN.md)
abi-baseline: all
	@tests/install/abi.sh $(BUILD) . --write

# the prefix is written into twkit.pc and the units: configure with it
install: configure
	@cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@DESTDIR=$(DESTDIR) cmake --install $(BUILD)

uninstall:
	@test -f $(BUILD)/install_manifest.txt || { echo "make uninstall: nothing installed from $(BUILD)"; exit 1; }
	@sed 's|^|$(DESTDIR)|' $(BUILD)/install_manifest.txt | xargs -d '\n' rm -f
	@for d in include/twkit lib/cmake/twkit etc/twkit; do \
		rmdir $(DESTDIR)$(PREFIX)/$$d 2>/dev/null || true; done
	@echo "make uninstall: removed $$(wc -l < $(BUILD)/install_manifest.txt) files"
	@rm -f $(BUILD)/install_manifest.txt

# Debian packages (debian/; scripts/deb.sh, scripts/deb-test.sh). The tree is
# copied to $(DEB_DIR)/src and built there: dpkg-buildpackage writes into
# the parent directory, and debian/changelog is generated from
# project(twkit VERSION) in CMakeLists.txt, never checked in.
DEB_DIR ?= build/deb

.PHONY: deb deb-lint deb-test deb-changelog
deb:
	@JOBS=$(JOBS) scripts/deb.sh build $(DEB_DIR)

deb-lint:
	@ls $(DEB_DIR)/*.changes >/dev/null 2>&1 || $(MAKE) deb
	lintian --info --display-info $(DEB_DIR)/*.changes

deb-test:
	@ls $(DEB_DIR)/*.deb >/dev/null 2>&1 || $(MAKE) deb
	@scripts/deb-test.sh $(DEB_DIR)

deb-changelog:
	@scripts/deb.sh changelog
