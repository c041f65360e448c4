# `make up` deploys the local stack; `make test` runs every check CI runs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= local
STATE ?= $(CURDIR)/.pulumi-state
export PULUMI_BACKEND_URL ?= file://$(STATE)
# state secrets are encrypted with a random passphrase kept beside the local state (mode 0600)
export PULUMI_CONFIG_PASSPHRASE_FILE ?= $(STATE)/passphrase
export PATH := $(HOME)/.pulumi/bin:$(PATH)

.PHONY: venv system-deps pulumi-cli docker-engine up destroy retention gc backup status test lint typecheck unit dataplane bench policy clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

# Debian/Ubuntu packages the data-plane tests run as real processes (needs root or sudo); the
# clients they prove the registry with (oras, crane, cosign, notation: pinned, from Debian's newer
# suites, unpacked into .tools/ without touching the system; tools/clients.py); the `registry` of
# each distribution build the targets deploy, built from ../shared/vendor with Debian's Go 1.25
# (testbench/registry_builds.py); and the OCI conformance suite (testbench/conformance.py). Every build is
# checked against its pinned sha256 first and cached in .tools/ by checksum: a second run builds nothing.
APT_PACKAGES := docker-registry nginx libnginx-mod-http-js redis-server skopeo apache2-utils openssl busybox curl debian-archive-keyring
# what ../shared/vendor/build-oci-conformance.sh builds the conformance suite with (its PKGS)
APT_PACKAGES += golang-go golang-github-go-resty-resty-dev golang-github-asaskevich-govalidator-dev \
  golang-github-mitchellh-mapstructure-dev golang-github-google-uuid-dev golang-github-google-go-cmp-dev \
  golang-github-go-logr-logr-dev golang-github-opencontainers-go-digest-dev golang-gopkg-yaml.v3-dev \
  golang-golang-x-net-dev golang-golang-x-sys-dev golang-golang-x-text-dev
system-deps:
	@if [ -n "$$(dpkg-query -W -f='$${db:Status-Abbrev}\n' $(APT_PACKAGES) 2>&1 | grep -v '^ii ')" ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	fi
	@$(PYTHON) -m tools.clients install >/dev/null
	@$(PYTHON) -m testbench.registry_builds install
	@$(PYTHON) -m testbench.conformance install

# The Pulumi CLI, when it is not on PATH yet: Pulumi's official installer, downloaded to a file
# first (never piped into a shell), asked for the CLI release that matches the installed SDK.
PULUMI_INSTALLER := $(VENV)/pulumi-install.sh
pulumi-cli: venv
	@if ! command -v pulumi >/dev/null; then \
	  version=$$($(PY) -c 'from importlib.metadata import version; print(version("pulumi"))') && \
	  curl -fsSL --retry 3 -o $(PULUMI_INSTALLER) https://get.pulumi.com/ && \
	  sh $(PULUMI_INSTALLER) --version "$$version" --no-edit-path && \
	  command -v pulumi >/dev/null || { \
	    echo "make: could not install the Pulumi CLI (see above); install it yourself (https://www.pulumi.com/docs/install/) and run make up again" >&2; \
	    exit 1; }; \
	fi

docker-engine:
	@command -v docker >/dev/null || { echo "make: no docker command: install Docker (or Docker Desktop) first" >&2; exit 1; }
	@docker info >/dev/null 2>&1 || { echo "make: no Docker engine answers (docker info failed): start Docker (or Docker Desktop) first" >&2; exit 1; }

# Deploy the embedded default (local Docker engine) with a local state backend in .pulumi-state.
# Every check runs first, in this order; the state folder and its passphrase are created only after.
up:
	@$(MAKE) --no-print-directory docker-engine
	@$(MAKE) --no-print-directory pulumi-cli
	@mkdir -p $(STATE) && chmod 700 $(STATE)
	@test -s $(PULUMI_CONFIG_PASSPHRASE_FILE) || (umask 077; head -c 32 /dev/urandom | base64 > $(PULUMI_CONFIG_PASSPHRASE_FILE))
	pulumi stack select $(STACK) 2>/dev/null || pulumi stack init $(STACK)
	pulumi up --yes --stack $(STACK)
	@echo; pulumi stack output --stack $(STACK)

destroy:
	pulumi destroy --yes --stack $(STACK)

# Day 2 on a deployed stack (README, Day 2): `make retention gc` deletes what registry:retention
# does not keep, then collects the garbage with writes frozen at the edge.
retention: venv
	$(PY) -m tools.maintenance retention --stack $(STACK)

gc: venv
	$(PY) -m tools.maintenance gc --stack $(STACK)

# `make backup TO=backups/$$(date +%F)` (or TO=s3://bucket/prefix), `make status` (README, Disaster
# recovery; Metrics and tools.status)
backup: venv
	@test -n "$(TO)" || (echo "make backup TO=DIR|s3://BUCKET/PREFIX: where the copy goes (an empty place of its own)" >&2; exit 2)
	$(PY) -m tools.maintenance backup --stack $(STACK) --to $(TO)

status: venv
	$(PY) -m tools.status --stack $(STACK)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv
	$(VENV)/bin/mypy

unit: venv
	$(VENV)/bin/pytest -m "not dataplane"

dataplane: venv system-deps
	$(VENV)/bin/pytest -m dataplane

# Edge vs direct push/pull, auth CPU per request, GC/freeze time as the store grows, and mirror
# cold/warm pulls vs the upstream, on sandboxes; several minutes, not part of `test`.
bench: venv system-deps
	$(PY) -m bench.compatibility
	$(PY) -m bench.dataplane
	$(PY) -m bench.gc
	$(PY) -m bench.mirrors
	$(PY) -m bench.recovery
	$(PY) -m bench.program_eval --stacks local dev prod ecr gar acr

# The offline policy check (policies/ through tools/policy_check.py) over every shipped stack;
# no Pulumi CLI, plugins or credentials needed. Checks every stack, then fails if any failed.
policy: venv
	@status=0; for file in stacks/Pulumi.*.yaml; do \
	  stack=$${file#stacks/Pulumi.}; stack=$${stack%.yaml}; \
	  $(PY) -m tools.policy_check --stack "$$stack" || status=1; \
	done; exit $$status

# Everything CI runs: lint, types, the policy check of every stack, every test (unit and data plane).
test: venv system-deps lint typecheck policy
	$(VENV)/bin/pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
