package fn

import (
	"context"
	"errors"
	"time"

	"github.com/todo-chatbot/functions/shared/runtime/state"
)

// Deduper remembers which events a function already processed.
type Deduper interface {
	Seen(ctx context.Context, key string) (bool, error)
	Mark(ctx context.Context, key string) error
}

// Dedupe makes every event trigger skip event ids it already processed.
func (f *Function) Dedupe(d Deduper) { f.dedupe = d }

// StateDeduper keeps processed event ids in a state store, each for TTL.
type StateDeduper struct {
	Store *state.Store
	TTL   time.Duration
}

func (d StateDeduper) Seen(ctx context.Context, key string) (bool, error) {
	var v struct{}
	_, err := d.Store.Get(ctx, key, &v)
	if errors.Is(err, state.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (d StateDeduper) Mark(ctx context.Context, key string) error {
	err := d.Store.Apply(ctx, state.Create(key, struct{}{}).WithTTL(d.TTL))
	if errors.Is(err, state.ErrConflict) {
		return nil
	}
	return err
}
