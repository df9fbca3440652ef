# Contracts with the services around the functions, included by the main
# Makefile. The same tests run under plain `go test ./...`.
#
#   make test-contracts   docs/api/openapi.yaml and asyncapi.yaml against the
#                         functions' source and the running stack (real
#                         daprd), the Python client, and the Dapr pin

.PHONY: test-contracts

test-contracts: tools ## check docs/api and examples/python against the running functions, and the Dapr pin
	$(GO) test -count=1 -timeout 15m ./shared/apicontract/
