// Package e2e holds the end-to-end tests of the functions together: real
// daprd sidecars and the Dapr scheduler, on every profile's broker and
// stores (devstack.Profiles). It has no code of its own.
package e2e
