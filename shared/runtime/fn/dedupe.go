package fn

import "context"

// Deduper remembers which events a function already processed: a
// state.Records of markers, kept for as long as a redelivery may come.
type Deduper interface {
	Marked(ctx context.Context, key string) (bool, error)
	Mark(ctx context.Context, key string) (bool, error)
}

// Dedupe makes every event trigger skip event ids it already processed.
func (f *Function) Dedupe(d Deduper) { f.dedupe = d }
