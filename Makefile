# The commands a person types. Each installs what it needs first (scripts/install-deps).
.PHONY: deps build-debug build-release run test lint bench fmt fmt-check clean

JOBS ?= $(shell nproc)
RUN_ARGS ?= serve

deps:
	@scripts/install-deps

build-debug: deps
	cmake --preset debug
	cmake --build --preset debug -j $(JOBS)

build-release: deps
	cmake --preset release
	cmake --build --preset release -j $(JOBS)

# Starts the server with embedded defaults.
run: build-release
	./build/release/src/cli/tandem $(RUN_ARGS)

# Debug build with ASan + UBSan, then every test through ctest (unit, interop, fuzz smoke runs).
test: build-debug
	ctest --preset debug

# clang-tidy (.clang-tidy) on every source of src/, at zero warnings.
lint: build-debug
	tools/lint

# Optimised build, then C++ and peer benchmarks; writes docs/BENCHMARKS.md.
bench: build-release
	bench/run

fmt:
	git ls-files --cached --others --exclude-standard '*.h' '*.cc' | xargs clang-format -i

fmt-check:
	git ls-files --cached --others --exclude-standard '*.h' '*.cc' | xargs clang-format --dry-run --Werror

clean:
	rm -rf build
