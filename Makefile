# The two commands: `make run` (the whole stack, locally) and `make test`.
# Everything else here is what they build on.

SHELL := /bin/bash
GO ?= go
# Every build and test runs on this Go release (the go command fetches it
# once from the module proxy): it carries the standard library's security
# fixes that the Go this module declares in go.mod does not.
export GOTOOLCHAIN ?= go1.27.3
BIN := bin
# The Dapr version is pinned once, in hack/dapr/go.mod.
DAPR_VERSION := $(shell awk '$$1 == "github.com/dapr/dapr" { sub(/^v/, "", $$2); print $$2; exit }' hack/dapr/go.mod)
FUNCTIONS := $(notdir $(wildcard functions/*))
DAPR_LDFLAGS := -s -w -X github.com/dapr/dapr/pkg/buildinfo.version=$(DAPR_VERSION)

.PHONY: all build tools functions run migrate test test-short test-unit test-integration vet clean help

all: build

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{ printf "  %-22s %s\n", $$1, $$2 }'

build: tools functions ## build the Dapr runtime (once), the broker and every function

tools: $(BIN)/daprd $(BIN)/scheduler $(BIN)/sentry $(BIN)/broker ## build daprd, the scheduler and sentry from Dapr's source, and the local broker

# Built from Dapr's own source through the module proxy. Slow once (about
# ten minutes on two cores), then reused until hack/dapr/go.mod changes.
$(BIN)/daprd: hack/dapr/go.mod hack/dapr/go.sum
	@echo "building daprd $(DAPR_VERSION) from source (first time takes ~10 min)"
	cd hack/dapr && $(GO) build -tags allcomponents -trimpath -ldflags "$(DAPR_LDFLAGS)" -o ../../$(BIN)/daprd github.com/dapr/dapr/cmd/daprd

$(BIN)/scheduler: hack/dapr/go.mod hack/dapr/go.sum
	@echo "building the Dapr scheduler $(DAPR_VERSION) from source"
	cd hack/dapr && $(GO) build -trimpath -ldflags "$(DAPR_LDFLAGS)" -o ../../$(BIN)/scheduler github.com/dapr/dapr/cmd/scheduler

# The certificate authority: `make run MTLS=1`, the access-control test, the benchmarks.
$(BIN)/sentry: hack/dapr/go.mod hack/dapr/go.sum
	cd hack/dapr && $(GO) build -trimpath -ldflags "$(DAPR_LDFLAGS)" -o ../../$(BIN)/sentry github.com/dapr/dapr/cmd/sentry

$(BIN)/broker: hack/broker/main.go go.mod go.sum
	$(GO) build -trimpath -o $@ ./hack/broker

functions: ## build every function into bin/
	$(GO) build -trimpath -o $(BIN)/ $(addprefix ./functions/,$(FUNCTIONS))

# MTLS=1 adds the Dapr sentry and mTLS between every sidecar, as in a
# cluster; DAPR_CONFIG=file gives every sidecar a Dapr Configuration (e.g.
# access control, which needs MTLS=1 to know who calls); PROFILE=name runs
# the same binaries on another profile's components (bindings/profiles:
# kafka-postgres, rabbitmq-mysql, jetstream-sqlite); NOTIFY_URL=url has
# reminders delivered there instead of the stand-in webhook (examples/fastapi).
# Scale out as in Kubernetes: REPLICAS=2 (or fire-reminder=3,send-notification=2)
# runs replicas under one app-id, SCHEDULERS=3 a scheduler cluster, BROKERS=3
# a broker cluster, PARTITIONS=N partitions per topic.
run: build ## start the broker, the scheduler and every function with its sidecar (MTLS=1, DAPR_CONFIG=file, PROFILE=name, NOTIFY_URL=url, REPLICAS=, SCHEDULERS=, BROKERS=, PARTITIONS=)
	$(GO) run ./hack/stack $(if $(MTLS),-mtls) $(if $(DAPR_CONFIG),-config $(DAPR_CONFIG)) \
		$(if $(PROFILE),-profile $(PROFILE)) $(if $(NOTIFY_URL),-notify $(NOTIFY_URL)) \
		$(if $(REPLICAS),-replicas $(REPLICAS)) $(if $(SCHEDULERS),-schedulers $(SCHEDULERS)) \
		$(if $(BROKERS),-brokers $(BROKERS)) $(if $(PARTITIONS),-partitions $(PARTITIONS))

# Against the stack `make run` started; in a cluster run the same command as
# a Job with a Dapr sidecar (see hack/migrate).
migrate: ## move a task store of the legacy layout into the paged index and the agenda (idempotent, resumable)
	$(GO) run ./hack/migrate -stack .run/stack.json

# golangci-lint, pinned in hack/lint/go.mod, is built into bin/ on first
# use (about five minutes on two cores), like the Dapr binaries.
GOLANGCI_LINT := $(BIN)/golangci-lint
# The modules vet lints: the functions' and the benchmarks'. hack/deploy's
# own checks (test-deploy) vet it.
LINT_MODULES = . $(BENCH_MOD)

$(GOLANGCI_LINT): hack/lint/go.mod hack/lint/go.sum
	$(GO) -C hack/lint build -trimpath -o $(abspath $@) github.com/golangci/golangci-lint/v2/cmd/golangci-lint

vet: $(GOLANGCI_LINT) ## go vet, gofmt and golangci-lint (.golangci.yml says which linters and why)
	@set -e; for m in $(LINT_MODULES); do \
		echo "vet $$m"; $(GO) -C $$m vet ./...; \
		(cd $$m && $(abspath $(GOLANGCI_LINT)) run ./...); \
	done
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

# The unit tests alone, in seconds: every test that needs daprd, a broker,
# a built function or a service skips under -short.
test-short: ## unit tests only (go test -short), no daprd or services needed
	$(GO) test -short -count=1 ./...
	$(GO) -C $(BENCH_MOD) test -short -count=1 ./...

test: tools vet ## unit and integration tests (real daprd, scheduler, broker; PostgreSQL and Redis when running)
	$(GO) test -count=1 -timeout 30m ./...
	@$(MAKE) --no-print-directory test-bench
	@$(MAKE) --no-print-directory test-deploy

clean: ## remove built binaries and run data
	rm -rf $(BIN) .run

-include hack/*.mk
