package reminder

import (
	"encoding/json"
	"fmt"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// DaprJob is the one-shot Dapr job name that falls due at at and carries
// data, as fire-reminder schedules it. Scheduling it again replaces it.
func DaprJob(name string, data any, at time.Time) (*dapr.Job, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("job %s data: %w", name, err)
	}
	// A protobuf Value reaches the app as plain JSON.
	var v structpb.Value
	if err := protojson.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("job %s data: %w", name, err)
	}
	payload, err := anypb.New(&v)
	if err != nil {
		return nil, fmt.Errorf("job %s data: %w", name, err)
	}
	job := dapr.NewJob(name,
		dapr.WithJobDueTime(at.UTC().Format(time.RFC3339Nano)),
		dapr.WithJobData(payload),
		// A failed delivery (state store down, say) is retried for a minute.
		dapr.WithJobConstantFailurePolicyMaxRetries(60),
		dapr.WithJobConstantFailurePolicyInterval(time.Second),
	)
	job.Overwrite = true
	return job, nil
}
