# SPDX-License-Identifier: MIT
# The README's two commands: `make run` and `make test`. Everything else is a helper of theirs.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all deps deps-test deps-bench deps-fuzz build run test test-asan build-asan fuzz bench \
        format check-format clean install uninstall deb deps-deb soak test-fleet

all: build

# Each target installs only the Debian packages it needs (scripts/install-deps lists them), and
# never touches a service the machine runs.
deps:
	@scripts/install-deps build
deps-test:
	@scripts/install-deps test
deps-bench:
	@scripts/install-deps bench
deps-deb:
	@scripts/install-deps deb
deps-fuzz:
	@scripts/install-deps fuzz

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Starts the supervisor with the hello example on http://127.0.0.1:8080 (Ctrl-C stops it).
run: build
	$(BUILD)/bin/baton run -c examples/hello/baton.yaml

test: deps-test build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE fleet $(CTEST_ARGS)

# The Ansible fleet rollout against three systemd-nspawn hosts (tests/integration/test_ansible.py,
# ~6 min): outside `make test` for its time; .ci/run runs it.
test-fleet: deps-test build
	cd $(BUILD) && ctest --output-on-failure -L fleet $(CTEST_ARGS)

$(ASAN_BUILD)/build.ninja:
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBATON_SANITIZE=ON

build-asan: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# The whole suite again under AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan: deps-test build-asan
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) -LE containers $(CTEST_ARGS)

# libFuzzer builds (clang) of every target in tests/fuzz, FUZZ_SECONDS each (issue 11: ten
# minutes), FUZZ_JOBS at once, the corpora minimised back into tests/fuzz/corpus; then DIFF_CASES.
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 600
FUZZ_JOBS    ?= $(JOBS)
# The differential parser test (tests/integration/http_differential.py) against h11: `make test`
# runs 100,000 cases, `make fuzz` this many (sanitizer build of the parse-frame tool).
DIFF_CASES   ?= 1000000
fuzz: deps-fuzz
	CC=clang cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBATON_FUZZ=ON
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	tests/fuzz/run $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_JOBS)
	BATON_BUILD_DIR=$(FUZZ_BUILD) /usr/bin/python3 tests/integration/http_differential.py --cases $(DIFF_CASES)

# The long torture runs (BATON_SOAK=1): tests/integration/test_load_torture.py (1,000 reloads under
# load, 5 minutes of chaos, resource exhaustion) and test_load_metrics.py (1,000 reloads, 100
# worker kills and a re-exec while /metrics is scraped every 100 ms); each prints its figures.
soak: deps-test build
	cd $(BUILD) && BATON_SOAK=1 PYTEST_ADDOPTS=-s ctest --output-on-failure --timeout 3600 -R 'torture|load_metrics' -V | \
	    grep -E '^[0-9]+: (chaos|metrics soak|[ 0-9]+ reloads| +[0-9]| keep-alive| close|log full|[0-9]+ idle)|tests passed|FAILED|Error'

bench: deps-bench build
	bench/run-all $(BUILD)

# `make install [PREFIX=/usr/local] [DESTDIR=/tmp/stage]`: the programs, libbaton, the headers,
# baton.pc, the CMake package, man pages, systemd units and bash completion. `make uninstall`
# removes what the last install wrote (give it the same DESTDIR).
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

uninstall:
	@test -f $(BUILD)/install_manifest.txt || { echo "nothing installed from $(BUILD)"; exit 1; }
	sed 's|^|$(DESTDIR)|' $(BUILD)/install_manifest.txt | xargs -d '\n' rm -fv --
	@# baton's own directories (.../baton/...), deepest first; never a shared one like bin/.
	-awk -v d='$(DESTDIR)' '{ p = $$0; while (sub("/[^/]*$$", "", p) && p ~ "/baton(/|$$)") print d p }' \
	    $(BUILD)/install_manifest.txt | sort -ru | xargs -r rmdir --ignore-fail-on-non-empty
	rm -f $(BUILD)/install_manifest.txt

# `make deb`: baton_<version>_<arch>.deb in build-deb/ (a Release build without the tests).
DEB_BUILD ?= build-deb
deb: deps-deb
	cmake -S . -B $(DEB_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DBATON_BUILD_TESTS=OFF \
	      -DCMAKE_INSTALL_PREFIX=/usr -DBATON_DEB_LAYOUT=ON
	cmake --build $(DEB_BUILD) -j $(JOBS)
	cd $(DEB_BUILD) && cpack -G DEB
	@ls $(DEB_BUILD)/baton_*.deb

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

format: deps-fuzz
	clang-format -i $(FORMAT_FILES)

check-format: deps-fuzz
	clang-format --dry-run -Werror $(FORMAT_FILES)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(DEB_BUILD)
