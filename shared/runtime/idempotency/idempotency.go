// Package idempotency remembers what a request with an Idempotency-Key
// did, so a retry returns the first result instead of doing it again.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/todo-chatbot/functions/shared/runtime/problem"
	"github.com/todo-chatbot/functions/shared/runtime/state"
)

// Header is the request header carrying the key.
const Header = "Idempotency-Key"

// TTL is how long a key is remembered.
const TTL = 24 * time.Hour

// Record is what a key did: which resource it made, from which request
// (a fingerprint of the body), and whether its event went out.
type Record struct {
	ResourceID  string `json:"resource_id"`
	Fingerprint string `json:"fingerprint"`
	Published   bool   `json:"published"`
}

// Keys stores records.
type Keys interface {
	// Claim stores r under key unless a record is there; it returns the
	// record that holds the key afterwards and whether it is r.
	Claim(ctx context.Context, key string, r Record) (Record, bool, error)
	// Done marks the key's event as published.
	Done(ctx context.Context, key string, r Record) error
}

// Fingerprint identifies a request body regardless of key order.
func Fingerprint(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// FromRequest returns the request's key, "" when it has none, or a 400
// when the key is malformed.
func FromRequest(r *http.Request) (string, error) {
	k := r.Header.Get(Header)
	if k == "" {
		return "", nil
	}
	if len(k) > 255 {
		return "", problem.Invalid(problem.FieldError{Field: Header, Detail: "must be at most 255 characters"})
	}
	for _, c := range k {
		if c < 0x21 || c > 0x7e {
			return "", problem.Invalid(problem.FieldError{Field: Header, Detail: "must be printable ASCII without spaces"})
		}
	}
	return k, nil
}

// ErrMismatch: the key was used before with a different body.
var ErrMismatch = problem.New(http.StatusUnprocessableEntity, "this Idempotency-Key was used with a different request body")

// StateKeys keeps records in a Dapr state store with a TTL.
type StateKeys struct{ Store *state.Store }

func (s StateKeys) Claim(ctx context.Context, key string, r Record) (Record, bool, error) {
	err := s.Store.Apply(ctx, state.Create(key, r).WithTTL(TTL))
	if err == nil {
		return r, true, nil
	}
	if !errors.Is(err, state.ErrConflict) {
		return Record{}, false, err
	}
	var held Record
	if _, err := s.Store.Get(ctx, key, &held); err != nil {
		return Record{}, false, fmt.Errorf("idempotency key held but unreadable: %w", err)
	}
	return held, false, nil
}

func (s StateKeys) Done(ctx context.Context, key string, r Record) error {
	r.Published = true
	// A key created first-write can only be overwritten with its ETag (Redis).
	var held Record
	etag, err := s.Store.Get(ctx, key, &held)
	if err != nil {
		return err
	}
	return s.Store.Apply(ctx, state.Put(key, r, etag).WithTTL(TTL))
}

// Memory keeps records in memory, for tests.
type Memory struct {
	mu sync.Mutex
	m  map[string]Record
}

func (m *Memory) Claim(_ context.Context, key string, r Record) (Record, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string]Record{}
	}
	if held, ok := m.m[key]; ok {
		return held, false, nil
	}
	m.m[key] = r
	return r, true, nil
}

func (m *Memory) Done(_ context.Context, key string, r Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r.Published = true
	m.m[key] = r
	return nil
}
