// Package apicontract holds the tests that keep the published contracts
// true: docs/api/openapi.yaml (every function's HTTP API), docs/api/asyncapi.yaml
// (the topics and their events) and examples/python (a Chat API client),
// checked against the functions' source and against real requests,
// responses and events of the running stack. It also checks that the Dapr
// runtime in bin/ is the version pinned in hack/dapr/go.mod (see
// docs/upgrading.md). It has no code of its own.
package apicontract
