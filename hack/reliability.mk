# Reliability and security checks, included by the Makefile.
#
#   make test-security        tokens, access control (mTLS), tenancy, logs, bad input
#   make fuzz                 every fuzz target for FUZZTIME (10s) each
#   make vulncheck            govulncheck; fails on a vulnerability the code reaches
#   make secrets-scan         credentials in any file git tracks or would track
#   make replay-deadletters TOPIC=todo.reminders.events.dlq
#   make test-faults          SIGKILL/restart under load: reminders exactly once;
#                             its figures go to .run/reports/faults.md
#   make reports              copy those figures (and other tests' figures) into the docs

FUZZTIME ?= 10s
TOPIC ?=
# govulncheck's database: VULNDB=https://vuln.go.dev where it is reachable;
# by default a copy built from golang.org/x/vulndb (served by the module
# proxy) under .run/vulndb.
VULNDB ?=
VULNDB_VERSION := v0.0.0-20261105234957-e22db6528018
GOVULNCHECK := golang.org/x/vuln/cmd/govulncheck@v1.9.0
# package:FuzzTarget for every `func Fuzz...` in a _test.go file: a new
# fuzz target runs without a change here.
FUZZ_TARGETS = $(shell grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' functions shared \
	| sed -E 's#^(.*)/[^/]*_test\.go:func #./\1:#' | sort -u)

# Where make test-faults leaves its figures: under the gitignored .run/, so
# a test run leaves the tree clean; make reports copies them
# between docs/reliability.md's markers.
FAULTS_FIGURES := .run/reports/faults.md

.PHONY: test-security fuzz vulncheck secrets-scan replay-deadletters test-faults reports

test-security: tools ## security tests through real sidecars (about 1 min)
	$(GO) test -count=1 -timeout 10m ./shared/tests/security/

fuzz: ## run every fuzz target for FUZZTIME (default 10s) each
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

.run/vulndb/index/db.json:
	@echo "building the vulnerability database from golang.org/x/vulndb@$(VULNDB_VERSION) (once, about a minute)"
	@set -e; dir=$$($(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | awk -F'"' '$$2 == "Dir" { print $$4 }'); \
	rm -rf .run/vulndb.tmp; \
	$(GO) run golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION) -vulns "$$dir/data/osv" -out .run/vulndb.tmp; \
	rm -rf .run/vulndb; mv .run/vulndb.tmp .run/vulndb

vulncheck: $(if $(VULNDB),,.run/vulndb/index/db.json) ## govulncheck; fails on any vulnerability the code reaches
	$(GO) run $(GOVULNCHECK) -db $(if $(VULNDB),$(VULNDB),file://$(CURDIR)/.run/vulndb) ./...

secrets-scan: ## scan every file git tracks or would track for credentials (gitleaks)
	@bash hack/secrets-scan.sh

replay-deadletters: ## republish a dead-letter topic through a sidecar: TOPIC=todo.reminders.events.dlq
	@test -n "$(TOPIC)" || { echo "replay-deadletters: set TOPIC, e.g. TOPIC=todo.reminders.events.dlq" >&2; exit 2; }
	$(GO) run ./hack/replay -topic $(TOPIC) $(REPLAY_FLAGS)

test-faults: tools ## SIGKILL/restart under load (about 3 min): figures into .run/reports/faults.md
	FAULTS_REPORT=$(FAULTS_FIGURES) $(GO) test -tags faults -count=1 -timeout 20m -run TestFaults -v ./shared/tests/faults/

reports: ## copy the figures the last test runs wrote under .run/reports/ into the docs that show them
	@bash hack/reports.sh .run/reports
