// Package notify delivers notifications to users and keeps a record of
// each, so that a reminder delivered once is never delivered again.
package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/todo-chatbot/functions/shared/runtime/problem"
	"github.com/todo-chatbot/functions/shared/runtime/request"
	"github.com/todo-chatbot/functions/shared/runtime/state"
	"github.com/todo-chatbot/functions/shared/todo/ids"
	"github.com/todo-chatbot/functions/shared/todo/reminder"
)

// Kinds of notification.
const (
	KindReminder = "reminder"
	KindMessage  = "message"
)

// Statuses of a delivery record.
const (
	StatusPending = "pending"
	StatusSent    = "sent"
)

// Notification is one notification and its delivery record.
type Notification struct {
	ID       string     `json:"id"`
	UserID   string     `json:"user_id"`
	TaskID   string     `json:"task_id,omitempty"`
	Kind     string     `json:"kind"`
	Title    string     `json:"title"`
	Body     string     `json:"body,omitempty"`
	DueAt    *time.Time `json:"due_at,omitempty"`
	RemindAt *time.Time `json:"remind_at,omitempty"`
	Status   string     `json:"status"`
	SentAt   *time.Time `json:"sent_at"`
	Channel  string     `json:"channel"`
}

// FromDue is the notification of a due reminder. Its id is derived from
// the reminder's identity: the same reminder is always the same record.
func FromDue(d reminder.Due, channel string) Notification {
	remind := d.RemindAt.UTC()
	return Notification{
		ID:       ids.Notification.Of(d.ID()),
		UserID:   d.UserID,
		TaskID:   d.TaskID,
		Kind:     KindReminder,
		Title:    d.Title,
		Body:     "Reminder: " + d.Title,
		DueAt:    d.DueAt,
		RemindAt: &remind,
		Status:   StatusPending,
		Channel:  channel,
	}
}

// MessageInput is the body of POST /notifications.
type MessageInput struct {
	UserID string `json:"user_id"`
	Title  string `json:"title"`
	Body   string `json:"body"`
}

// Message validates in and returns its notification.
func Message(in MessageInput, channel string) (Notification, error) {
	var errs problem.Fields
	if err := request.ValidID(in.UserID); err != nil {
		errs.Add("user_id", "%v", err)
	}
	title := strings.TrimSpace(in.Title)
	if n := utf8.RuneCountInString(title); n < 1 || n > 200 {
		errs.Add("title", "must be 1 to 200 characters")
	}
	if utf8.RuneCountInString(in.Body) > 2000 {
		errs.Add("body", "must be at most 2000 characters")
	}
	if err := errs.Err(); err != nil {
		return Notification{}, err
	}
	return Notification{
		ID: uuid.Must(uuid.NewV7()).String(), UserID: in.UserID, Kind: KindMessage,
		Title: title, Body: in.Body, Status: StatusPending, Channel: channel,
	}, nil
}

// Lease is how long a claim on a pending record keeps other deliveries of
// the same notification away: longer than one delivery takes, and shorter
// than a redelivered event's retries last, so that a claim left behind by
// a crash is taken over rather than dead-lettered.
const Lease = 10 * time.Second

// ErrInProgress means another delivery of the same notification holds its
// claim: retry later, when it has either sent it or let its claim lapse.
var ErrInProgress = errors.New("another delivery of this notification is in progress")

// Records keeps delivery records.
type Records interface {
	// Claim takes the right to deliver n for Lease: it stores n as pending
	// unless a record with its id exists, or takes over a pending record
	// whose claim lapsed. claimed is false when the record says n was
	// sent (held is that record); err is ErrInProgress while another
	// claim is live.
	Claim(ctx context.Context, n Notification) (held Notification, claimed bool, err error)
	// Release gives up a claim after a failed delivery, so that a retry
	// need not wait for the lease to lapse.
	Release(ctx context.Context, n Notification) error
	// MarkSent records n as delivered and lists it for its user.
	MarkSent(ctx context.Context, n Notification) error
	// List returns the user's delivered notifications, newest first.
	List(ctx context.Context, userID string) ([]Notification, error)
}

// StateRecords keeps records in a Dapr state store: one key per record and
// one index per user.
type StateRecords struct {
	Store *state.Store
	Now   func() time.Time // time.Now when nil
}

func recordKey(userID, id string) string { return "notification/" + userID + "/" + id }
func inboxKey(userID string) string      { return "inbox/" + userID }

type inbox struct {
	IDs []string `json:"ids"`
}

// claims are the records as Claim and Release see them: a pending
// record is stored with its claim's lease (beside the notification's
// fields, as "lease_until"), a sent one without, so it is never claimed
// again.
func (s StateRecords) claims() state.Records {
	return state.Records{Store: s.Store, Lease: Lease, Now: s.Now}
}

func (s StateRecords) Claim(ctx context.Context, n Notification) (Notification, bool, error) {
	var held Notification
	claimed, err := s.claims().Claim(ctx, recordKey(n.UserID, n.ID), n, &held)
	switch {
	case claimed:
		return n, true, nil
	case errors.Is(err, state.ErrLeased):
		return held, false, ErrInProgress
	case err != nil:
		return n, false, err
	}
	return held, false, nil
}

func (s StateRecords) Release(ctx context.Context, n Notification) error {
	return s.claims().Release(ctx, recordKey(n.UserID, n.ID))
}

func (s StateRecords) MarkSent(ctx context.Context, n Notification) error {
	var claimed Notification
	// The record was created first-write: it is overwritten with its ETag.
	recTag, err := s.Store.Get(ctx, recordKey(n.UserID, n.ID), &claimed)
	if err != nil {
		return err
	}
	// Deliveries to one user race for their inbox.
	err = state.RetryOnConflict(ctx, state.OnContention, state.ErrConflict, func() error {
		var ib inbox
		etag, err := s.Store.Get(ctx, inboxKey(n.UserID), &ib)
		if err != nil && !errors.Is(err, state.ErrNotFound) {
			return err
		}
		if !slices.Contains(ib.IDs, n.ID) {
			ib.IDs = append(ib.IDs, n.ID)
		}
		inboxOp := state.Put(inboxKey(n.UserID), ib, etag)
		if etag == "" {
			inboxOp = state.Create(inboxKey(n.UserID), ib)
		}
		return s.Store.Transact(ctx, state.Put(recordKey(n.UserID, n.ID), n, recTag), inboxOp)
	})
	if errors.Is(err, state.ErrConflict) {
		return fmt.Errorf("inbox of %s kept changing: %w", n.UserID, err)
	}
	return err
}

func (s StateRecords) List(ctx context.Context, userID string) ([]Notification, error) {
	var ib inbox
	if _, err := s.Store.Get(ctx, inboxKey(userID), &ib); err != nil {
		if errors.Is(err, state.ErrNotFound) {
			return []Notification{}, nil
		}
		return nil, err
	}
	keys := make([]string, len(ib.IDs))
	for i, id := range ib.IDs {
		keys[i] = recordKey(userID, id)
	}
	items, err := s.Store.GetMany(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make([]Notification, 0, len(items))
	for _, it := range items {
		var n Notification
		if err := json.Unmarshal(it.Value, &n); err != nil {
			return nil, fmt.Errorf("decode %s: %w", it.Key, err)
		}
		out = append(out, n)
	}
	SortNewestFirst(out)
	return out, nil
}

// SortNewestFirst orders by sent time, newest first, then by id.
func SortNewestFirst(ns []Notification) {
	slices.SortStableFunc(ns, func(a, b Notification) int {
		var ta, tb time.Time
		if a.SentAt != nil {
			ta = *a.SentAt
		}
		if b.SentAt != nil {
			tb = *b.SentAt
		}
		if c := tb.Compare(ta); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
