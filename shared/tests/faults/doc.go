// Package faults is the fault-injection suite (make test-faults; build tag
// faults, so plain `go test ./...` leaves it out): under a steady load of
// tasks with reminders it SIGKILLs and restarts, one at a time, function
// processes, sidecars, the scheduler and the broker, and cuts the stack's
// connections to PostgreSQL and Redis (or, with FAULTS_DB_RESTART=1,
// restarts those servers), then checks that every reminder still wanted
// was delivered exactly once and that everything recovered by itself.
// See docs/reliability.md.
package faults
