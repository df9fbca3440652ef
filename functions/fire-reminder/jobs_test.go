package main

import (
	"context"
	"errors"
	"testing"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/todo-chatbot/functions/shared/todo/reminder"
)

// jobsClient is the Jobs API part of a Dapr client, in memory. Any other
// method panics (the embedded interface is nil).
type jobsClient struct {
	dapr.Client
	jobs     map[string]*dapr.Job
	notFound error // what a missing job is reported as
}

func (c *jobsClient) ScheduleJobAlpha1(_ context.Context, j *dapr.Job) error {
	if _, ok := c.jobs[j.Name]; ok && !j.Overwrite {
		return status.Error(codes.AlreadyExists, "job exists")
	}
	c.jobs[j.Name] = j
	return nil
}

func (c *jobsClient) GetJobAlpha1(_ context.Context, name string) (*dapr.Job, error) {
	j, ok := c.jobs[name]
	if !ok {
		return nil, c.notFound
	}
	return j, nil
}

func (c *jobsClient) DeleteJobAlpha1(_ context.Context, name string) error {
	if _, ok := c.jobs[name]; !ok {
		return c.notFound
	}
	delete(c.jobs, name)
	return nil
}

func TestDaprJobs(t *testing.T) {
	for _, notFound := range []error{
		status.Error(codes.NotFound, "job not found"),
		status.Error(codes.Internal, "failed to get job: job not found: reminder-task-1"),
	} {
		t.Run(notFound.Error(), func(t *testing.T) {
			c := &jobsClient{jobs: map[string]*dapr.Job{}, notFound: notFound}
			jobs := DaprJobs{Client: c}
			ctx := context.Background()
			at := time.Date(2026, 3, 1, 17, 0, 0, 500, time.FixedZone("", 5*3600))
			j := reminder.Job{UserID: "user-1", TaskID: "task-1", RemindAt: at.UTC()}

			_, err := jobs.Get(ctx, "reminder-task-1")
			assert.ErrorIs(t, err, ErrNoJob)

			require.NoError(t, jobs.Schedule(ctx, "reminder-task-1", j, at))
			sj := c.jobs["reminder-task-1"]
			require.NotNil(t, sj)
			assert.Equal(t, "2026-03-01T12:00:00.0000005Z", *sj.DueTime, "due in UTC")
			assert.True(t, sj.Overwrite, "rescheduling replaces the job")
			require.NoError(t, jobs.Schedule(ctx, "reminder-task-1", j, at), "scheduling again is not an error")

			got, err := jobs.Get(ctx, "reminder-task-1")
			require.NoError(t, err)
			assert.Equal(t, j, got, "the job's data survives the round trip")
			assert.True(t, got.RemindAt.Equal(at))

			require.NoError(t, jobs.Cancel(ctx, "reminder-task-1"))
			require.NoError(t, jobs.Cancel(ctx, "reminder-task-1"), "cancelling a missing job is not an error")
			assert.Empty(t, c.jobs)
		})
	}
}

func TestDaprJobsErrors(t *testing.T) {
	down := status.Error(codes.Unavailable, "scheduler unavailable")
	c := &jobsClient{jobs: map[string]*dapr.Job{}, notFound: down}
	jobs := DaprJobs{Client: c}
	_, err := jobs.Get(context.Background(), "reminder-x")
	assert.Error(t, err)
	assert.False(t, errors.Is(err, ErrNoJob), "only a missing job is ErrNoJob")
	assert.Error(t, jobs.Cancel(context.Background(), "reminder-x"))
}
