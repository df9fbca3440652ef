package fakes

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/todo-chatbot/functions/shared/runtime/state"
)

// StateOp names a call of the Dapr state API, for State.Fail.
type StateOp string

// The calls State serves.
const (
	StateGet      StateOp = "get"
	StateSave     StateOp = "save"
	StateDelete   StateOp = "delete"
	StateTransact StateOp = "transaction"
)

// State is a Dapr state store in memory: a state.Client with Dapr's rules
// for ETags (first-write, matching ETags, all-or-nothing transactions) and
// TTLs (ttlInSeconds, against Clock). Code over state.Store runs on it as
// it does through daprd; the contract tests of package state hold both to
// the same behaviour.
type State struct {
	// Clock is the time TTLs expire against; the wall clock when nil.
	Clock *Clock
	// Fail, when set, is asked before every call, once per key it
	// touches; a non-nil error fails the call and changes nothing.
	Fail func(op StateOp, key string) error

	mu    sync.Mutex
	data  map[string]stateValue
	seq   int
	reads int
}

type stateValue struct {
	v       []byte
	etag    string
	expires time.Time // zero: never
}

var _ state.Client = (*State)(nil)

// NewState returns an empty store whose TTLs run on clock (the wall clock
// when nil).
func NewState(clock *Clock) *State { return &State{Clock: clock, data: map[string]stateValue{}} }

// errETag is worded as daprd words an ETag mismatch, which state maps to
// state.ErrConflict.
var errETag = errors.New("possible etag mismatch")

func (f *State) now() time.Time {
	if f.Clock != nil {
		return f.Clock.Now()
	}
	return time.Now()
}

// live returns the value under key unless it expired.
func (f *State) live(key string) (stateValue, bool) {
	v, ok := f.data[key]
	if ok && !v.expires.IsZero() && !f.now().Before(v.expires) {
		delete(f.data, key)
		return stateValue{}, false
	}
	return v, ok
}

func (f *State) fail(op StateOp, keys ...string) error {
	if f.Fail == nil {
		return nil
	}
	for _, k := range keys {
		if err := f.Fail(op, k); err != nil {
			return err
		}
	}
	return nil
}

func (f *State) GetState(_ context.Context, _, key string, _ map[string]string) (*dapr.StateItem, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(StateGet, key); err != nil {
		return nil, err
	}
	f.reads++
	v, _ := f.live(key)
	return &dapr.StateItem{Key: key, Value: v.v, Etag: v.etag}, nil
}

func (f *State) GetBulkState(_ context.Context, _ string, keys []string, _ map[string]string, _ int32) ([]*dapr.BulkStateItem, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(StateGet, keys...); err != nil {
		return nil, err
	}
	out := make([]*dapr.BulkStateItem, len(keys))
	for i, k := range keys {
		f.reads++
		v, _ := f.live(k)
		out[i] = &dapr.BulkStateItem{Key: k, Value: v.v, Etag: v.etag}
	}
	return out, nil
}

// check applies Dapr's concurrency rule to one write.
func (f *State) check(key string, etag *dapr.ETag, opts *dapr.StateOptions) error {
	cur, exists := f.live(key)
	switch {
	case etag != nil && etag.Value != "" && (!exists || cur.etag != etag.Value):
		return errETag
	case (etag == nil || etag.Value == "") && opts != nil && opts.Concurrency == dapr.StateConcurrencyFirstWrite && exists:
		return errETag
	}
	return nil
}

func (f *State) set(key string, v []byte, meta map[string]string) {
	f.seq++
	sv := stateValue{v: v, etag: strconv.Itoa(f.seq)}
	if s, err := strconv.Atoi(meta["ttlInSeconds"]); err == nil && s > 0 {
		sv.expires = f.now().Add(time.Duration(s) * time.Second)
	}
	f.data[key] = sv
}

func (f *State) SaveStateWithETag(_ context.Context, _, key string, data []byte, etag string, meta map[string]string, so ...dapr.StateOption) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(StateSave, key); err != nil {
		return err
	}
	opts := &dapr.StateOptions{}
	for _, o := range so {
		o(opts)
	}
	if err := f.check(key, &dapr.ETag{Value: etag}, opts); err != nil {
		return err
	}
	f.set(key, data, meta)
	return nil
}

func (f *State) DeleteStateWithETag(_ context.Context, _, key string, etag *dapr.ETag, _ map[string]string, opts *dapr.StateOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(StateDelete, key); err != nil {
		return err
	}
	if err := f.check(key, etag, opts); err != nil {
		return err
	}
	delete(f.data, key)
	return nil
}

func (f *State) ExecuteStateTransaction(_ context.Context, _ string, _ map[string]string, ops []*dapr.StateOperation) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range ops {
		if err := f.fail(StateTransact, o.Item.Key); err != nil {
			return err
		}
	}
	for _, o := range ops {
		if err := f.check(o.Item.Key, o.Item.Etag, o.Item.Options); err != nil {
			return err
		}
	}
	for _, o := range ops {
		if o.Type == dapr.StateOperationTypeDelete {
			delete(f.data, o.Item.Key)
		} else {
			f.set(o.Item.Key, o.Item.Value, o.Item.Metadata)
		}
	}
	return nil
}

// Reads counts the keys read so far, bulk reads included.
func (f *State) Reads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

// Keys lists the keys that hold a value now, sorted.
func (f *State) Keys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k := range f.data {
		if _, ok := f.live(k); ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// TTL is how long the value under key has left to live, and false when it
// has no TTL or no value.
func (f *State) TTL(key string) (time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.live(key)
	if !ok || v.expires.IsZero() {
		return 0, false
	}
	return v.expires.Sub(f.now()), true
}
