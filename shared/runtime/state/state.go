// Package state gives functions typed access to a Dapr state store: JSON
// values, ETags with first-write concurrency, transactions and TTLs.
package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var (
	// ErrNotFound: no value is stored under the key.
	ErrNotFound = errors.New("state: not found")
	// ErrConflict: the ETag did not match, or a first write found a value.
	ErrConflict = errors.New("state: etag mismatch")
)

// Client is the part of the Dapr client a Store uses.
type Client interface {
	GetState(ctx context.Context, store, key string, meta map[string]string) (*dapr.StateItem, error)
	GetBulkState(ctx context.Context, store string, keys []string, meta map[string]string, parallelism int32) ([]*dapr.BulkStateItem, error)
	SaveStateWithETag(ctx context.Context, store, key string, data []byte, etag string, meta map[string]string, so ...dapr.StateOption) error
	DeleteStateWithETag(ctx context.Context, store, key string, etag *dapr.ETag, meta map[string]string, opts *dapr.StateOptions) error
	ExecuteStateTransaction(ctx context.Context, store string, meta map[string]string, ops []*dapr.StateOperation) error
}

// Store is one Dapr state store component.
type Store struct {
	client Client
	name   string
}

// New returns the Store for the named component.
func New(client Client, name string) *Store { return &Store{client: client, name: name} }

// Name is the component's name.
func (s *Store) Name() string { return s.name }

// Get decodes the value under key into v and returns its ETag.
func (s *Store) Get(ctx context.Context, key string, v any) (etag string, err error) {
	item, err := s.client.GetState(ctx, s.name, key, nil)
	if err != nil {
		return "", fmt.Errorf("get %s/%s: %w", s.name, key, wrap(err))
	}
	if item == nil || len(item.Value) == 0 {
		return "", fmt.Errorf("get %s/%s: %w", s.name, key, ErrNotFound)
	}
	if err := json.Unmarshal(item.Value, v); err != nil {
		return "", fmt.Errorf("decode %s/%s: %w", s.name, key, err)
	}
	return item.Etag, nil
}

// Item is one value read by GetMany.
type Item struct {
	Key   string
	Value json.RawMessage
	ETag  string
}

// GetMany reads keys in one call; missing keys are left out.
func (s *Store) GetMany(ctx context.Context, keys []string) ([]Item, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	items, err := s.client.GetBulkState(ctx, s.name, keys, nil, 8)
	if err != nil {
		return nil, fmt.Errorf("bulk get %s (%d keys): %w", s.name, len(keys), wrap(err))
	}
	out := make([]Item, 0, len(items))
	for _, it := range items {
		if it.Error != "" {
			return nil, fmt.Errorf("bulk get %s/%s: %s", s.name, it.Key, it.Error)
		}
		if len(it.Value) == 0 {
			continue
		}
		out = append(out, Item{Key: it.Key, Value: it.Value, ETag: it.Etag})
	}
	return out, nil
}

// Op is one write in a transaction.
type Op struct {
	kind  dapr.OperationType
	key   string
	value any
	etag  string
	ttl   time.Duration
	first bool
}

// Put writes v under key. With a non-empty etag the write succeeds only if
// the stored value still has that ETag.
func Put(key string, v any, etag string) Op {
	return Op{kind: dapr.StateOperationTypeUpsert, key: key, value: v, etag: etag}
}

// Create writes v under key only if nothing is stored there yet.
func Create(key string, v any) Op {
	return Op{kind: dapr.StateOperationTypeUpsert, key: key, value: v, first: true}
}

// Delete removes key; with a non-empty etag only if it still matches.
func Delete(key, etag string) Op {
	return Op{kind: dapr.StateOperationTypeDelete, key: key, etag: etag}
}

// WithTTL makes the value expire after d.
func (o Op) WithTTL(d time.Duration) Op { o.ttl = d; return o }

func (o Op) item() (*dapr.SetStateItem, error) {
	it := &dapr.SetStateItem{Key: o.key, Metadata: map[string]string{}}
	if o.value != nil {
		b, err := json.Marshal(o.value)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", o.key, err)
		}
		it.Value = b
	}
	if o.etag != "" {
		it.Etag = &dapr.ETag{Value: o.etag}
	}
	if o.first || o.etag != "" {
		it.Options = &dapr.StateOptions{Concurrency: dapr.StateConcurrencyFirstWrite, Consistency: dapr.StateConsistencyStrong}
	}
	if o.ttl > 0 {
		it.Metadata["ttlInSeconds"] = strconv.Itoa(int(o.ttl.Round(time.Second) / time.Second))
	}
	return it, nil
}

// Apply runs one write outside a transaction.
func (s *Store) Apply(ctx context.Context, o Op) error {
	it, err := o.item()
	if err != nil {
		return err
	}
	var opts []dapr.StateOption
	if it.Options != nil {
		opts = append(opts, dapr.WithConcurrency(it.Options.Concurrency), dapr.WithConsistency(it.Options.Consistency))
	}
	etag := ""
	if it.Etag != nil {
		etag = it.Etag.Value
	}
	if o.kind == dapr.StateOperationTypeDelete {
		err = s.client.DeleteStateWithETag(ctx, s.name, o.key, it.Etag, it.Metadata, it.Options)
	} else {
		err = s.client.SaveStateWithETag(ctx, s.name, o.key, it.Value, etag, it.Metadata, opts...)
	}
	if err != nil {
		return fmt.Errorf("%s %s/%s: %w", o.kind, s.name, o.key, wrap(err))
	}
	return nil
}

// Transact applies ops atomically: all or none. ErrConflict means another
// writer got there first; the caller reloads and tries again.
func (s *Store) Transact(ctx context.Context, ops ...Op) error {
	tx := make([]*dapr.StateOperation, len(ops))
	for i, o := range ops {
		it, err := o.item()
		if err != nil {
			return err
		}
		tx[i] = &dapr.StateOperation{Type: o.kind, Item: it}
	}
	if err := s.client.ExecuteStateTransaction(ctx, s.name, nil, tx); err != nil {
		return fmt.Errorf("transaction on %s (%d ops): %w", s.name, len(ops), wrap(err))
	}
	return nil
}

// wrap maps Dapr's ETag errors to ErrConflict. Dapr reports them as gRPC
// Aborted (single writes) or, inside transactions, as an error whose text
// names the ETag or a duplicate key, depending on the store; Redis's write
// script answers "failed to set key" when its version check fails, and
// PostgreSQL v2 "no item was updated". MySQL tells a transaction that lost
// a lock race to restart (deadlock, lock wait timeout), and MariaDB reports
// a lost race for the table's AUTO-INC lock as "failed to read
// auto-increment value": the same race, retried the same way.
func wrap(err error) error {
	if st, ok := status.FromError(err); ok && st.Code() == codes.Aborted {
		return fmt.Errorf("%w: %s", ErrConflict, st.Message())
	}
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"etag", "possible etag mismatch", "duplicate key", "unique constraint", "already exists", "failed to set key", "no item was updated", "try restarting transaction", "failed to read auto-increment value"} {
		if strings.Contains(msg, s) {
			return fmt.Errorf("%w: %w", ErrConflict, err)
		}
	}
	return err
}
