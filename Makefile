# The two commands of the README, and a few more for developers.
#   make run    install what is missing, build Release, start `chorusd all --dev` on loopback
#   make test   install what is missing, build, run every test (unit, end-to-end, unit again under
#               AddressSanitizer + UndefinedBehaviorSanitizer) and check the format
SHELL := /bin/bash
.DEFAULT_GOAL := build

BUILD_DIR ?= build/release
ASAN_DIR  ?= build/asan
FUZZ_DIR  ?= build/fuzz
CMAKE_GENERATOR ?= Ninja
JOBS ?= $(shell nproc)
# Media ports for `make run`; override with `make run MEDIA_PORTS=50000-50999`.
MEDIA_PORTS ?= 40000-40999
# The web client's port for `make run` (http://127.0.0.1:8080/).
WEB_PORT ?= 8080

CLANG_FORMAT ?= clang-format
# Test runs get a network namespace with only loopback and ephemeral ports apart from the tests'
# fixed ports (as root; otherwise they run as they are).
TEST_NETNS = ./scripts/test-netns.sh
FORMAT_FILES = $(shell git ls-files '*.h' '*.cc' 2>/dev/null)

.PHONY: deps build build-asan build-fuzz run test unit e2e asan-test fuzz-smoke format \
	format-check chart-check bench clean

deps:
	@./scripts/install-deps.sh

$(BUILD_DIR)/build.ninja: CMakeLists.txt | deps
	cmake -S . -B $(BUILD_DIR) -G $(CMAKE_GENERATOR) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

build-asan: deps
	cmake -S . -B $(ASAN_DIR) -G $(CMAKE_GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCHORUS_SANITIZE=ON -DCHORUS_BUILD_BENCHMARKS=OFF
	cmake --build $(ASAN_DIR) -j $(JOBS) --target chorus_unit_tests

build-fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_DIR) -G $(CMAKE_GENERATOR) \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCHORUS_BUILD_FUZZERS=ON \
	  -DCHORUS_BUILD_BENCHMARKS=OFF -DCHORUS_BUILD_E2E=OFF
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target chorus_fuzzers

# Each fuzzer for a short, seeded, bounded run (CHORUS_FUZZ_SECONDS, 10 s by default).
fuzz-smoke: build-fuzz
	ctest --test-dir $(FUZZ_DIR) -L fuzz --output-on-failure

run: build
	@./scripts/run-dev.sh $(BUILD_DIR) $(MEDIA_PORTS) $(WEB_PORT)

unit: build
	$(TEST_NETNS) ctest --test-dir $(BUILD_DIR) -L unit --output-on-failure -j $(JOBS)

e2e: build
	$(TEST_NETNS) ctest --test-dir $(BUILD_DIR) -L e2e --output-on-failure

asan-test: build-asan
	$(TEST_NETNS) ctest --test-dir $(ASAN_DIR) -L unit --output-on-failure -j $(JOBS)

format-check: deps
	@$(CLANG_FORMAT) --dry-run -Werror $(FORMAT_FILES) && echo "format-check: ok"

# The Helm chart, offline: yamllint, helm lint and template, Kubernetes schemas, the chart's
# promises and its refusals of broken values (tests/chart/check.sh; npm packages in build/).
chart-check: deps
	./tests/chart/check.sh

format:
	$(CLANG_FORMAT) -i $(FORMAT_FILES)

test: format-check build
	$(MAKE) --no-print-directory chart-check
	$(TEST_NETNS) ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)
	$(MAKE) --no-print-directory asan-test
	$(MAKE) --no-print-directory fuzz-smoke

bench: build
	./scripts/run-benchmarks.sh $(BUILD_DIR)

clean:
	rm -rf build
