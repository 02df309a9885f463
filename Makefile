# Top-level driver: installs missing Debian packages, then drives CMake.
#   make demo   build, start a broker, run the examples, stop the broker
#   make test   build and run the whole suite, then again under ASan+UBSan
#   make tsan   the suite under ThreadSanitizer (not part of make test)
#   make crash  the long randomised crash runs (make test runs them short)
#   make bench  run the socket-path benchmark
#   make fuzz   run each libFuzzer target FUZZ_SECONDS (make test: a short run)
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_TSAN ?= build-tsan
BUILD_FUZZ ?= build-fuzz
FUZZ_CC    ?= clang-14
# Seconds per fuzz target: make fuzz, and the short run of make test.
FUZZ_SECONDS      ?= 60
FUZZ_TEST_SECONDS ?= 10
JOBS       ?= 2
CTEST_ARGS ?=

.PHONY: all deps build demo test test-main test-asan test-fuzz fuzz fuzz-build \
	tsan crash bench install clean

all: build

deps:
	@./scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIPCQ_BUILD_TESTS=ON >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	./scripts/demo.sh $(BUILD)

test: test-main test-asan test-fuzz

test-main: build
	cd $(BUILD) && ctest -j$(JOBS) --output-on-failure -LE long $(CTEST_ARGS)

# The long randomised crash runs (label long; make test runs their short
# form, integration.crash).
crash: build
	cd $(BUILD) && ctest -j$(JOBS) --output-on-failure -L long $(CTEST_ARGS)

test-asan: deps
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug \
	    -DIPCQ_SANITIZE=address,undefined -DIPCQ_BUILD_TESTS=ON >/dev/null
	cmake --build $(BUILD_ASAN) -j$(JOBS)
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    ctest -j$(JOBS) --output-on-failure -LE 'slow|long' $(CTEST_ARGS)

# libFuzzer targets (fuzz/, docs/testing.md): a clang build of their own.
# make test replays the committed corpus and fuzzes each target a little;
# make fuzz fuzzes each for FUZZ_SECONDS. Either fails on any finding.
fuzz-build: deps
	CC=$(FUZZ_CC) cmake -S fuzz -B $(BUILD_FUZZ) >/dev/null
	cmake --build $(BUILD_FUZZ) -j$(JOBS)

test-fuzz: fuzz-build
	./fuzz/run.sh $(BUILD_FUZZ) $(FUZZ_TEST_SECONDS)

fuzz: fuzz-build
	./fuzz/run.sh $(BUILD_FUZZ) $(FUZZ_SECONDS)

tsan: deps
	cmake -S . -B $(BUILD_TSAN) -DCMAKE_BUILD_TYPE=Debug \
	    -DIPCQ_SANITIZE=thread -DIPCQ_BUILD_TESTS=ON >/dev/null
	cmake --build $(BUILD_TSAN) -j$(JOBS)
	cd $(BUILD_TSAN) && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	    ctest -j$(JOBS) --output-on-failure -LE 'slow|long' $(CTEST_ARGS)

bench: build
	./$(BUILD)/bench/ipcq-bench

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_TSAN) $(BUILD_FUZZ)
