// Package e2e holds the end-to-end tests of the functions together: real
// daprd sidecars, the Dapr scheduler and a Kafka-protocol broker, on SQLite
// and on PostgreSQL with Redis. It has no code of its own.
package e2e
