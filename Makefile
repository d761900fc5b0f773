# Streamline: the two commands a new user needs are `make demo` and `make test`.
SWIFT ?= swift
BIN := .build/release/streamline

.PHONY: setup build release demo test lint format

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

test: setup
	$(SWIFT) test

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests

format:
	$(SWIFT) format --in-place --recursive Sources Tests
