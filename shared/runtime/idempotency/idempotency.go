// Package idempotency remembers what a request with an Idempotency-Key
// did, so a retry returns the first result instead of doing it again.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
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

// Keys keeps records in a state store, each for TTL.
type Keys struct{ records state.Records }

// NewKeys returns the Keys kept in st.
func NewKeys(st *state.Store) Keys { return Keys{records: state.Records{Store: st, TTL: TTL}} }

// Claim stores r under key unless a record is there; it returns the
// record that holds the key afterwards and whether it is r. A record is
// never taken over: a retry finds the first request's.
func (k Keys) Claim(ctx context.Context, key string, r Record) (Record, bool, error) {
	var held Record
	claimed, err := k.records.Claim(ctx, key, r, &held)
	if err != nil {
		return Record{}, false, err
	}
	if claimed {
		return r, true, nil
	}
	return held, false, nil
}

// Done marks the key's event as published.
func (k Keys) Done(ctx context.Context, key string, r Record) error {
	r.Published = true
	return k.records.Finish(ctx, key, r)
}
