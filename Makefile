# The README's two commands: `make run` and `make test`. Everything else is a helper of theirs.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all deps deps-test deps-bench deps-fuzz build run test test-asan build-asan fuzz bench \
        format check-format clean

all: build

# Each target installs only the Debian packages it needs (scripts/install-deps lists them), and
# never touches a service the machine runs.
deps:
	@scripts/install-deps build
deps-test:
	@scripts/install-deps test
deps-bench:
	@scripts/install-deps bench
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
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

$(ASAN_BUILD)/build.ninja:
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBATON_SANITIZE=ON

build-asan: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# The whole suite again under AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan: deps-test build-asan
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# libFuzzer builds (clang) of every target in tests/fuzz; FUZZ_SECONDS each; then DIFF_CASES.
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
# The differential parser test (tests/integration/http_differential.py) against h11: `make test`
# runs 100,000 cases, `make fuzz` this many (sanitizer build of the parse-frame tool).
DIFF_CASES   ?= 1000000
fuzz: deps-fuzz
	CC=clang cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBATON_FUZZ=ON
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	tests/fuzz/run $(FUZZ_BUILD) $(FUZZ_SECONDS)
	BATON_BUILD_DIR=$(FUZZ_BUILD) /usr/bin/python3 tests/integration/http_differential.py --cases $(DIFF_CASES)

bench: deps-bench build
	bench/run-all $(BUILD)

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

format: deps-fuzz
	clang-format -i $(FORMAT_FILES)

check-format: deps-fuzz
	clang-format --dry-run -Werror $(FORMAT_FILES)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
