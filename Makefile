# SPDX-License-Identifier: Apache-2.0
# The two commands of the quick start: `make run` and `make test`. Both install what is
# missing, configure and build first.
BUILD ?= build
# e.g. SANITIZE=address,undefined for an ASan+UBSan build (use another BUILD dir)
SANITIZE ?= none
MESON_OPTS ?=

.PHONY: run test build deps bench clean

# Starts lanyardd on its embedded default config (serves the invoking user); RUN_ARGS adds
# flags, e.g. RUN_ARGS="--config docs/examples/lanyard.yaml".
RUN_ARGS ?=
run: build
	./$(BUILD)/daemon/lanyardd $(RUN_ARGS)

test: build
	meson test -C $(BUILD) --print-errorlogs --num-processes 2

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Repetitions interleaved at random, so machine drift hits floors and our figures alike; the
# ratios use the medians (docs/benchmarks.md).
BENCH_ARGS ?= --benchmark_repetitions=10 --benchmark_min_time=0.3 \
  --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
bench: build
	./$(BUILD)/bench/svid_bench $(BENCH_ARGS)

deps:
	@./packaging/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) -Db_sanitize=$(SANITIZE) $(if $(filter none,$(SANITIZE)),,-Db_lundef=false) $(MESON_OPTS)

clean:
	rm -rf build build-*

# libFuzzer targets under clang with ASan+UBSan; each runs FUZZ_SECONDS as a meson test.
FUZZ_SECONDS ?= 30
.PHONY: fuzz
fuzz: deps
	test -f build-fuzz/build.ninja || CXX=clang++ meson setup build-fuzz -Dfuzzing=enabled \
	  -Dtests=disabled -Dbench=disabled -Db_sanitize=address,undefined -Db_lundef=false \
	  -Dfuzz_seconds=$(FUZZ_SECONDS)
	meson configure build-fuzz -Dfuzz_seconds=$(FUZZ_SECONDS)
	ninja -C build-fuzz
	meson test -C build-fuzz --print-errorlogs --num-processes 2

# The Debian package: build-deb/lanyard_*.deb (packaging/build-deb.sh, docs/operations.md).
# package-test builds it, runs lintian, installs it (root), runs the installed lanyardd and
# lanyard, and purges it; TAP in build-deb/package-test.tap for .ci/count.py.
.PHONY: package package-test
package: deps
	./packaging/build-deb.sh
package-test: deps
	/usr/bin/python3 packaging/test-deb.py
