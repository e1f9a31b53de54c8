# Two commands for a newcomer: `make plan` and `make test`. Both create .venv when missing.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STACK ?= dev
# Platform stacks only: derived tenant stack files (Pulumi.<platform>.<tenant>.yaml) have a `.` in the name.
STACKS := $(strip $(foreach s,$(patsubst Pulumi.%.yaml,%,$(wildcard Pulumi.*.yaml)),$(if $(findstring .,$(s)),,$(s))))
PLAN ?= build/$(STACK)/plan.json
PLATFORM = $(firstword $(subst ., ,$(STACK)))
ENVIRONMENT = $(if $(filter dev,$(PLATFORM)),dev,prod)
POLICY_FLAGS = --policy-pack policies --policy-pack-config policies/config/$(ENVIRONMENT).json
# Any channel between tenants blocks the plan (--advisory reports without blocking, e.g. to triage).
ISOLATION_FLAGS ?=

.PHONY: help onboard plan plans rehearse isolation policy diff dr-report docs bench test lint typecheck check checkov preview up clean

help:
	@echo "make plan [STACK=dev]      offline plan + policy verdict (no cloud, no credentials)"
	@echo "make test                  unit, component, policy and whole-stack tests"
	@echo "make plans                 offline plan of every stack ($(STACKS)), then the deploy rehearsal"
	@echo "make rehearse              apply-time rules over every build/<stack>/plan.json together"
	@echo "make isolation [STACK=dev] channels between every ordered pair of tenants of a plan"
	@echo "make checkov [STACK=...]   Checkov (independent scanner) over the plans; every stack by default"
	@echo "make policy PLAN=file      evaluate the policy pack on a saved plan"
	@echo "make diff BASE=ref         per-tenant plan diff of a git revision vs the working tree"
	@echo "make dr-report             per-tenant RPO/RTO, DR mechanisms and where every copy lives"
	@echo "make docs                  regenerate docs/compliance-matrix.md, docs/diagrams/ and the README rule table"
	@echo "make onboard ENV=prod ID=acme-mutual NAME='Acme Mutual' TIER=standard HOME_REGION=us-east-1 \\"
	@echo "    REGIONS=us-east-1,us-west-2 RESIDENCY=us-east-1,us-west-2 DOMAIN=portal.acme.example.com \\"
	@echo "    CONTACT='Acme IT <it@acme.example.com>'   tenant file + residency registry entry, one pull request"
	@echo "make bench                 plan + policy timings on 10/50/200 synthetic tenants"
	@echo "make check                 ruff + pyright"
	@echo "make preview|up STACK=...  real pulumi preview/up with the policy pack attached"

$(BIN)/.installed: requirements.txt requirements-dev.txt policies/requirements.txt constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@touch $@

# Checkov lives in its own virtualenv: its dependency pins conflict with the program's.
CHECKOV_VENV := .venv-checkov
$(CHECKOV_VENV)/bin/.installed: requirements-checkov.txt constraints-checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt -c constraints-checkov.txt
	@touch $@

# Plans a stack first when build/<stack>/plan.json is missing; stale skips are checked over all stacks.
checkov: $(BIN)/.installed $(CHECKOV_VENV)/bin/.installed
	$(BIN)/python -m planner.checkov_export $(if $(filter command line,$(origin STACK)),--stack $(STACK))

plan: $(BIN)/.installed
	$(BIN)/python -m planner plan --stack $(STACK)
	$(BIN)/python -m planner.rehearsal $(PLAN)
	$(BIN)/python -m planner.isolation $(ISOLATION_FLAGS) $(PLAN)

# Plans every stack (a blocked one does not hide the others: its mandatory findings are shown in
# full), then rehearses them together; fails at the end if any step failed.
plans: $(BIN)/.installed
	@failed=""; $(BIN)/python -m planner.plans $(STACKS) || failed=" plans"; \
	$(BIN)/python -m planner.rehearsal || failed="$$failed rehearsal"; \
	$(BIN)/python -m planner.isolation $(ISOLATION_FLAGS) | grep -E '^(Isolation|Verdict)' || failed="$$failed isolation"; \
	if [ -n "$$failed" ]; then echo "blocked:$$failed"; exit 1; fi

rehearse: $(BIN)/.installed
	$(BIN)/python -m planner.rehearsal

isolation: $(BIN)/.installed
	$(BIN)/python -m planner.isolation $(ISOLATION_FLAGS) $(PLAN)

diff: $(BIN)/.installed
	$(BIN)/python -m planner diff --base '$(BASE)' --stack $(STACK)

bench: $(BIN)/.installed
	$(BIN)/python bench/bench.py

onboard: $(BIN)/.installed
	$(BIN)/python -m planner onboard --environment "$(ENV)" --id "$(ID)" --name "$(NAME)" --tier "$(TIER)" \
		--home "$(HOME_REGION)" --regions "$(REGIONS)" --residency "$(RESIDENCY)" --domain "$(DOMAIN)" \
		--contact "$(CONTACT)"

dr-report: $(BIN)/.installed
	$(BIN)/python -m planner dr-report --environment prod

docs: $(BIN)/.installed
	$(BIN)/python -m planner docs

policy: $(BIN)/.installed
	$(BIN)/python -m planner policy --plan $(PLAN)

# Checkov too: tests/test_checkov_export.py runs it on known-bad resources.
test: $(BIN)/.installed $(CHECKOV_VENV)/bin/.installed
	$(BIN)/python -m pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@if [ -x $(BIN)/actionlint ]; then $(BIN)/actionlint .github/workflows/*.yml && echo "actionlint: workflows clean"; \
	else echo "actionlint: not available on this platform, skipped"; fi

typecheck: $(BIN)/.installed
	$(BIN)/pyright

check: lint typecheck

# Real deployments: Pulumi CLI logged in to a backend, AWS credentials for the stack's account.
preview: $(BIN)/.installed
	pulumi preview --stack $(STACK) $(POLICY_FLAGS)

up: $(BIN)/.installed
	pulumi up --stack $(STACK) $(POLICY_FLAGS)

clean:
	rm -rf build .pytest_cache .ruff_cache
