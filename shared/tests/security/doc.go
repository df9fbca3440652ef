// Package security holds the security tests of the function stack, run
// through real daprd sidecars, the scheduler and the broker:
//
//   - APP_API_TOKEN: daprd sends it to the app on every call (invocation,
//     pub/sub deliveries, job callbacks, bindings); the app refuses any
//     other request with 401 except its probes.
//   - DAPR_API_TOKEN: a sidecar refuses API calls without it (HTTP and
//     gRPC); the functions send it, so the whole reminder pipeline still
//     works.
//   - Access control: with mTLS from a local Dapr sentry, only the app-id
//     a Configuration allows may invoke create-task; any other gets 403.
//     Without mTLS daprd knows no caller identity and applies the default
//     action to every caller, so access control needs sentry.
//   - Tenancy: another user's requests naming a user's task ids find
//     nothing and change nothing, on every route.
//   - Secrets: no log line of a whole stack run shows the webhook token
//     or an API token.
//
// The package has no code of its own; see the _test.go files.
package security
