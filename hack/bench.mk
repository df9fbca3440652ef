# Benchmarks of the local stack (hack/bench): what the Dapr sidecars add to
# service invocation, state and pub/sub, reminder lateness, throughput and
# cold start. Included by the Makefile.

.PHONY: bench bench-quick bench-scale

bench: tools functions ## benchmarks in full (about 14 min): writes docs/benchmarks.{md,json,png}
	$(GO) run ./hack/bench -out docs

bench-quick: tools functions ## the same benchmarks at small sizes (under 2 min): writes .run/bench-quick/
	$(GO) run ./hack/bench -quick -out .run/bench-quick

# The task layout at growing sizes; each size list is comma-separated and
# growing. Not part of `make bench` (the largest sizes take long).
SCALE_USERS ?= 1000,10000,100000
SCALE_TASKS ?= 10,1000,10000
SCALE_STORES ?= sqlite,postgres
SCALE_RATE ?= 100
bench-scale: tools ## create, list and sweep latency against data size (SCALE_USERS, SCALE_TASKS, SCALE_STORES, SCALE_RATE): writes docs/benchmarks-scale.{md,json,png}
	$(GO) run ./hack/benchscale -users $(SCALE_USERS) -tasks $(SCALE_TASKS) -stores $(SCALE_STORES) -rate $(SCALE_RATE) -out docs
