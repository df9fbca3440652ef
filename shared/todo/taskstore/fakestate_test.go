package taskstore_test

import (
	"context"
	"errors"
	"strconv"
	"sync"

	dapr "github.com/dapr/go-sdk/client"
)

// fakeState is a state.Client in memory with Dapr's ETag rules
// (first-write, atomic transactions), so the store's logic is tested fast;
// the same suite also runs through real daprd.
type fakeState struct {
	mu   sync.Mutex
	data map[string]fakeValue
	seq  int
	// reads counts the keys read, bulk reads included.
	reads int
}

type fakeValue struct {
	v    []byte
	etag string
}

func newFakeState() *fakeState { return &fakeState{data: map[string]fakeValue{}} }

var errETag = errors.New("possible etag mismatch")

func (f *fakeState) GetState(_ context.Context, _, key string, _ map[string]string) (*dapr.StateItem, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	v := f.data[key]
	return &dapr.StateItem{Key: key, Value: v.v, Etag: v.etag}, nil
}

func (f *fakeState) GetBulkState(_ context.Context, _ string, keys []string, _ map[string]string, _ int32) ([]*dapr.BulkStateItem, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*dapr.BulkStateItem, len(keys))
	for i, k := range keys {
		f.reads++
		v := f.data[k]
		out[i] = &dapr.BulkStateItem{Key: k, Value: v.v, Etag: v.etag}
	}
	return out, nil
}

// check applies Dapr's concurrency rule to one write.
func (f *fakeState) check(key string, etag *dapr.ETag, opts *dapr.StateOptions) error {
	cur, exists := f.data[key]
	switch {
	case etag != nil && etag.Value != "" && (!exists || cur.etag != etag.Value):
		return errETag
	case (etag == nil || etag.Value == "") && opts != nil && opts.Concurrency == dapr.StateConcurrencyFirstWrite && exists:
		return errETag
	}
	return nil
}

func (f *fakeState) set(key string, v []byte) {
	f.seq++
	f.data[key] = fakeValue{v: v, etag: strconv.Itoa(f.seq)}
}

func (f *fakeState) SaveStateWithETag(_ context.Context, _, key string, data []byte, etag string, _ map[string]string, so ...dapr.StateOption) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	opts := &dapr.StateOptions{}
	for _, o := range so {
		o(opts)
	}
	if err := f.check(key, &dapr.ETag{Value: etag}, opts); err != nil {
		return err
	}
	f.set(key, data)
	return nil
}

func (f *fakeState) DeleteStateWithETag(_ context.Context, _, key string, etag *dapr.ETag, _ map[string]string, opts *dapr.StateOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(key, etag, opts); err != nil {
		return err
	}
	delete(f.data, key)
	return nil
}

func (f *fakeState) ExecuteStateTransaction(_ context.Context, _ string, _ map[string]string, ops []*dapr.StateOperation) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range ops {
		if err := f.check(o.Item.Key, o.Item.Etag, o.Item.Options); err != nil {
			return err
		}
	}
	for _, o := range ops {
		if o.Type == dapr.StateOperationTypeDelete {
			delete(f.data, o.Item.Key)
		} else {
			f.set(o.Item.Key, o.Item.Value)
		}
	}
	return nil
}

func (f *fakeState) readCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}
