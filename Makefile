# Streamline: the two commands a new user needs are `make demo` and `make test`.
SWIFT ?= swift
BIN := .build/release/streamline

.PHONY: setup build release demo test test-avx2 fuzz lint format

# oneDNN (matrix products) from the distribution; everything else is in the Swift toolchain.
setup:
	@./scripts/setup

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release

# Runs the main job on a model that ships with the project.
demo: release
	./scripts/demo

# The suite runs in its own temporary folder and fails if a test leaves anything behind there.
test: setup
	SWIFT=$(SWIFT) ./scripts/test

# The suite as an AVX2-only CPU computes it (no AVX-512, no native bf16), on any x86-64 machine.
test-avx2: setup
	ONEDNN_MAX_CPU_ISA=AVX2 SWIFT=$(SWIFT) ./scripts/test

# A few seconds of every fuzz target (scripts/fuzz TARGET SECONDS runs one for longer).
fuzz: setup
	./scripts/fuzz all 10

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Fuzz/Sources Fuzz/Package.swift

format:
	$(SWIFT) format --in-place --recursive Sources Tests Fuzz/Sources Fuzz/Package.swift
