// Package metrics defines the functions' Prometheus metrics, each once.
// Every function serves them on its metrics port (docs/observability.md
// lists them with the alerts worth having).
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Outcomes of one event delivery, as events_total counts them.
const (
	Success          = "success"
	Retry            = "retry"
	DeadLettered     = "dead_lettered"
	DuplicateSkipped = "duplicate_skipped"
)

var (
	// HandlerDuration: time spent serving one request, by trigger (http,
	// topic, event, job, cron) and route pattern.
	HandlerDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "todo_handler_duration_seconds",
		Help:    "Time to serve one request, by trigger and route.",
		Buckets: prometheus.DefBuckets,
	}, []string{"trigger", "route"})

	// Events: events handled, by topic (or Knative delivery path) and outcome.
	Events = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "todo_events_total",
		Help: "Events handled, by topic and outcome (success, retry, dead_lettered, duplicate_skipped).",
	}, []string{"topic", "outcome"})

	// ReminderLateness: how long after remind_at a reminder fired
	// (stage fired, fire-reminder) or its notification went out (stage
	// delivered, send-notification).
	ReminderLateness = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "todo_reminder_lateness_seconds",
		Help:    "Time from a reminder's remind_at until it fired or was delivered, by stage.",
		Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600},
	}, []string{"stage"})

	// Notifications: deliveries attempted, by channel and outcome
	// (delivered, failed).
	Notifications = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "todo_notifications_total",
		Help: "Notification deliveries, by channel and outcome (delivered, failed).",
	}, []string{"channel", "outcome"})

	// SidecarCalls: calls to the Dapr sidecar's API, by gRPC method: what
	// each operation costs in round trips, each one CPU in two processes.
	SidecarCalls = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "todo_sidecar_calls_total",
		Help: "Calls to the Dapr sidecar, by gRPC method.",
	}, []string{"method"})

	// SweepRuns: sweeps run, by outcome (ok, failed).
	SweepRuns = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "todo_sweep_runs_total",
		Help: "Reminder sweeps run, by outcome (ok, failed).",
	}, []string{"outcome"})

	// SweepFound: what sweeps found and did, by kind.
	SweepFound = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "todo_sweep_found_total",
		Help: "What reminder sweeps found and did, by kind (tasks, overdue_announced, reminders_rescheduled, reminders_fired_late, reminders_cancelled).",
	}, []string{"kind"})
)

// Late records that a reminder due at remindAt reached stage at now.
func Late(stage string, remindAt, now time.Time) {
	ReminderLateness.WithLabelValues(stage).Observe(now.Sub(remindAt).Seconds())
}
