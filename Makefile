# Trailkeeper's two commands, `make demo` and `make test`, work on a fresh machine: each
# first installs whatever is missing (scripts/setup.sh skips what is already there).
# `make test` builds once (cargo leptos build --release) and every suite reuses that build.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.NOTPARALLEL:
.DEFAULT_GOAL := help

# Tools installed by setup: cargo's, and wasm-opt from npm's binaryen (Debian's breaks hydration).
export PATH := $(HOME)/.cargo/bin:$(CURDIR)/end2end/node_modules/.bin:$(PATH)

.PHONY: help demo test bench setup build fmt-check lint test-rust test-e2e sqlx-prepare

help:
	@echo "make demo   install what is missing, build, serve the dashboard on http://127.0.0.1:3000"
	@echo "make test   install what is missing, build once, run every test suite"
	@echo "make bench  run the benchmarks"

setup:
	scripts/setup.sh

# --precompress: the site's files are served brotli or gzip compressed, as the browser accepts.
# --split: each page's islands (#[island(lazy)]) are wasm of their own, fetched by the pages
# that have them, so a first visit downloads only the shared part.
build: setup
	cargo leptos build --release --precompress --split

demo: build
	scripts/demo.sh

test: setup fmt-check build lint test-rust test-e2e

fmt-check:
	cargo fmt --all --check

# Both builds of the app: the server's (ssr) and the browser's (hydrate, wasm).
lint:
	cargo clippy --release --workspace --all-targets -- -D warnings
	cargo clippy --release -p trailkeeper-app --lib --target wasm32-unknown-unknown --features hydrate -- -D warnings

# Unit and integration tests: a private PostgreSQL for the run (each test creates and drops
# its own database in it) and the AWS API peer.
test-rust:
	scripts/with-test-database.sh scripts/with-aws-peer.sh cargo test --release --workspace

# Browser tests: the release server on its own embedded database, driven in Chromium.
test-e2e:
	scripts/with-aws-peer.sh node --test end2end/tests/

# After changing a query or a migration: refresh the query data in .sqlx/ and commit it.
sqlx-prepare:
	scripts/sqlx-prepare.sh

# Figures, not pass/fail, on a private PostgreSQL: the inventory at 10 000 secrets, ingest at a
# million events, detection on the labelled scenario month, alert delivery's latency and throughput,
# and what a browser downloads on a first visit. `make bench SCALE=10m` instead: a year of an
# organisation (10 million events; `1m` a tenth).
SCALE ?=
bench: build
	scripts/site-size.py target/site/pkg
ifeq ($(SCALE),)
	scripts/with-test-database.sh cargo bench -p trailkeeper --bench inventory --bench ingest --bench detection --bench alerts
else
	TRAILKEEPER_BENCH_SCALE=$(SCALE) LEPTOS_SITE_ROOT=$(CURDIR)/target/site scripts/with-test-database.sh cargo bench -p trailkeeper --bench scale
endif
