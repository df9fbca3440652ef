# Contracts with the services around the functions, included by the main
# Makefile. The same tests run under plain `go test ./...`.
#
#   make test-contracts   docs/api/openapi.yaml and asyncapi.yaml linted by
#                         the ecosystem's own tools, then checked against the
#                         functions' source and the running stack (real
#                         daprd), the Python client, and the Dapr pin
#   make lint-contracts   the linting alone: Redocly CLI and the AsyncAPI
#                         parser, from npm with the committed lockfile

.PHONY: test-contracts lint-contracts

CONTRACTS_NPM := hack/contracts

# npm ci again only when the lockfile changed. No install scripts: the
# linters need none.
$(CONTRACTS_NPM)/node_modules/.package-lock.json: $(CONTRACTS_NPM)/package-lock.json
	npm ci --prefix $(CONTRACTS_NPM) --no-audit --no-fund --ignore-scripts
	@touch $@

lint-contracts: $(CONTRACTS_NPM)/node_modules/.package-lock.json ## lint docs/api with Redocly CLI and the AsyncAPI parser
	cd $(CONTRACTS_NPM) && REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
		npx --no-install redocly lint --config redocly.yaml ../../docs/api/openapi.yaml
	node $(CONTRACTS_NPM)/asyncapi-lint.mjs docs/api/asyncapi.yaml

test-contracts: tools lint-contracts ## lint docs/api, then check it and examples/python against the running functions, and the Dapr pin
	$(GO) test -count=1 -timeout 15m ./shared/tests/apicontract/
