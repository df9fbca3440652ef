# Benchmarks of the local stack (hack/bench): what the Dapr sidecars add to
# service invocation, state and pub/sub, reminder lateness, throughput and
# cold start. Included by the Makefile.

.PHONY: bench bench-quick

bench: tools functions ## benchmarks in full (about 14 min): writes docs/benchmarks.{md,json,png}
	$(GO) run ./hack/bench -out docs

bench-quick: tools functions ## the same benchmarks at small sizes (under 2 min): writes .run/bench-quick/
	$(GO) run ./hack/bench -quick -out .run/bench-quick
