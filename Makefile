# The two set-up commands are `make demo` and `make test`; both work as the very
# first commands on a fresh Debian/Ubuntu machine (root: apt-get installs Pebble).

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: test unit integration e2e mutation lint typecheck dist-check demo bench live-test compat pebble clean dist deb packaging-test

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,lint]'
	touch $(STAMP)

## Debian packages the tests start or call: Pebble and its DNS server, setfacl/getfacl, promtool.
pebble:
	@command -v pebble >/dev/null && command -v pebble-challtestsrv >/dev/null && command -v setfacl >/dev/null \
	  && command -v promtool >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq --no-install-recommends pebble acl prometheus >/dev/null)

## Everything CI checks: lint, types, unit + integration + end-to-end tests with coverage, package.
test: $(STAMP) pebble lint typecheck
	$(BIN)/pytest -q --cov --cov-report=term-missing:skip-covered --cov-fail-under=90 tests/unit tests/integration tests/e2e
	$(MAKE) dist-check

## Quick loop: the unit tests, which start no server (well under 20 s).
unit: $(STAMP) pebble
	$(BIN)/pytest -q tests/unit

## Against the LiveDNS stand-in and other loopback peers (slow ones included).
integration: $(STAMP) pebble
	$(BIN)/pytest -q tests/integration

## certbot and Pebble.
e2e: $(STAMP) pebble
	$(BIN)/pytest -q tests/e2e

lint: $(STAMP)
	$(BIN)/ruff check certbot_dns_gandi_pat tests teststack benchmarks .ci

typecheck: $(STAMP)
	$(BIN)/mypy --strict certbot_dns_gandi_pat

dist-check: $(STAMP)
	$(BIN)/python .ci/check_dist.py

## Wheel and sdist into dist/, checked with twine check --strict.
dist: $(STAMP)
	$(BIN)/python .ci/check_dist.py --outdir dist

## Debian/Ubuntu package into dist/deb/ (root: installs the build tools with apt); lintian-checked.
deb:
	bash .ci/build-deb

## The .deb with Debian's certbot, the snap payload, the documented install commands (root, Debian).
packaging-test: $(STAMP) pebble
	bash .ci/packaging

## Issue a real certificate from a local ACME server through the plugin.
demo: $(STAMP) pebble
	$(BIN)/python -m teststack.demo

## Mutation testing (mutmut 3) of records, the journal and the client's add/remove: a score per part
## (at least 90 %); surviving mutants are explained in CONTRIBUTING.md. Not part of .ci/run.
mutation: $(STAMP)
	$(BIN)/pip install -q "mutmut>=3.8,<4"
	$(BIN)/python .ci/mutation

## Request counts and wall time for 1..100 names, concurrent vs sequential.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

## Contract tests against the real Gandi API (needs GANDI_LIVE_TOKEN, GANDI_LIVE_DOMAIN).
live-test: $(STAMP)
	$(BIN)/pytest -v -m live tests/live

## Issuance (apex + wildcard, renew) and unit tests on the oldest (certbot 1.21,
## Python 3.9) and the newest certbot (Python 3.13).
compat: pebble
	bash .ci/compat

clean:
	rm -rf $(VENV) .venv-* build dist *.egg-info .coverage .pytest_cache .mypy_cache .ruff_cache demo-output
