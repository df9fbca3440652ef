package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/todo-chatbot/functions/shared/todo/reminder"
)

// DaprJobs schedules reminder jobs with the Dapr Jobs API. Jobs are
// delivered only to the app-id that scheduled them: this function.
type DaprJobs struct {
	Client dapr.Client
}

// ErrNoJob: no job of that name is scheduled.
var ErrNoJob = errors.New("no such job")

func (d DaprJobs) Schedule(ctx context.Context, name string, j reminder.Job, at time.Time) error {
	job, err := reminder.DaprJob(name, j, at)
	if err != nil {
		return err
	}
	if err := d.Client.ScheduleJobAlpha1(ctx, job); err != nil {
		return fmt.Errorf("schedule job %s at %s: %w", name, at.UTC().Format(time.RFC3339Nano), err)
	}
	return nil
}

func (d DaprJobs) Cancel(ctx context.Context, name string) error {
	err := d.Client.DeleteJobAlpha1(ctx, name)
	if err == nil || isNotFound(err) {
		return nil
	}
	return fmt.Errorf("delete job %s: %w", name, err)
}

func (d DaprJobs) Get(ctx context.Context, name string) (reminder.Job, error) {
	job, err := d.Client.GetJobAlpha1(ctx, name)
	if isNotFound(err) {
		return reminder.Job{}, ErrNoJob
	}
	if err != nil {
		return reminder.Job{}, fmt.Errorf("get job %s: %w", name, err)
	}
	var v structpb.Value
	if err := job.Data.UnmarshalTo(&v); err != nil {
		return reminder.Job{}, fmt.Errorf("job %s data: %w", name, err)
	}
	raw, err := protojson.Marshal(&v)
	if err != nil {
		return reminder.Job{}, err
	}
	var j reminder.Job
	return j, json.Unmarshal(raw, &j)
}

func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	if st, ok := status.FromError(err); ok && st.Code() == codes.NotFound {
		return true
	}
	// Some Dapr versions report a missing job as Internal with this text.
	return strings.Contains(strings.ToLower(err.Error()), "not found")
}

// Fired reminders are remembered for a week, so a replayed event or a
// sweep never fires one twice.
const firedTTL = 7 * 24 * time.Hour

// firedKey marks a reminder that went out.
func firedKey(reminderID string) string { return "reminder-fired/" + reminderID }
