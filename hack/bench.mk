# Benchmarks of the local stack (hack/bench): what the Dapr sidecars add to
# service invocation, state and pub/sub, reminder lateness, throughput and
# cold start. Included by the Makefile. The benchmarks are a module of
# their own (hack/bench/go.mod), run from there with the output folder
# given absolute.

BENCH_MOD := hack/bench

.PHONY: bench bench-quick bench-scale test-bench

bench: tools functions ## benchmarks in full (about 18 min): writes docs/benchmarks.{md,json,png}
	$(GO) -C $(BENCH_MOD) run . -out $(CURDIR)/docs

bench-quick: tools functions ## the same benchmarks at small sizes (under 2 min): writes .run/bench-quick/
	$(GO) -C $(BENCH_MOD) run . -quick -out $(CURDIR)/.run/bench-quick

# The task layout at growing sizes; each size list is comma-separated and
# growing. Not part of `make bench` (the largest sizes take long).
SCALE_USERS ?= 1000,10000,100000
SCALE_TASKS ?= 10,1000,10000
SCALE_STORES ?= sqlite,postgres
SCALE_RATE ?= 100
bench-scale: tools ## create, list and sweep latency against data size (SCALE_USERS, SCALE_TASKS, SCALE_STORES, SCALE_RATE): writes docs/benchmarks-scale.{md,json,png}
	$(GO) -C $(BENCH_MOD) run ./scale -users $(SCALE_USERS) -tasks $(SCALE_TASKS) -stores $(SCALE_STORES) -rate $(SCALE_RATE) -out $(CURDIR)/docs

test-bench: ## unit tests of the benchmarks' load generator and readings (seconds)
	$(GO) -C $(BENCH_MOD) test -count=1 ./...
