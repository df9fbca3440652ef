package fakes

import (
	"context"
	"sync"
	"time"

	"github.com/todo-chatbot/functions/shared/runtime/state"
	"github.com/todo-chatbot/functions/shared/todo/task"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

// Op names a taskstore.Store method.
type Op string

// NewTasks is the task store over a new State whose TTLs run on clock
// (the wall clock when nil), and whose writes file the agenda at its time.
func NewTasks(clock *Clock) *taskstore.Dapr {
	s := taskstore.NewDapr(state.New(NewState(clock), "tasks"))
	if clock != nil {
		s.Now = clock.Now
	}
	return s
}

// The Store methods.
const (
	OpCreate   Op = "Create"
	OpGet      Op = "Get"
	OpUpdate   Op = "Update"
	OpComplete Op = "Complete"
	OpDelete   Op = "Delete"
	OpScan     Op = "Scan"
	OpList     Op = "List"
	OpAgenda   Op = "Agenda"
)

// Store wraps a taskstore.Store (the Dapr one over a State when Inner is
// nil) and can fail or interfere with its calls.
type Store struct {
	Inner taskstore.Store
	// Before, when set, runs before every call, with the user and task the
	// call is about ("" when it has none). A non-nil error is returned
	// instead of calling Inner. It may change Inner, e.g. to simulate a
	// concurrent writer.
	Before func(op Op, userID, taskID string) error

	mu    sync.Mutex
	fails map[Op][]error
	calls map[Op]int
}

var _ taskstore.Store = (*Store)(nil)

// NewStore wraps inner; a nil inner is a new, empty NewTasks(nil).
func NewStore(inner taskstore.Store) *Store {
	if inner == nil {
		inner = NewTasks(nil)
	}
	return &Store{Inner: inner}
}

// FailNext makes the next call of op return err (ErrInjected when nil)
// without reaching Inner. Calls queue.
func (s *Store) FailNext(op Op, err error) {
	if err == nil {
		err = ErrInjected
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fails == nil {
		s.fails = map[Op][]error{}
	}
	s.fails[op] = append(s.fails[op], err)
}

// Calls counts the calls of op, failed ones included.
func (s *Store) Calls(op Op) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

func (s *Store) before(op Op, userID, taskID string) error {
	s.mu.Lock()
	if s.calls == nil {
		s.calls = map[Op]int{}
	}
	s.calls[op]++
	var err error
	if q := s.fails[op]; len(q) > 0 {
		err, s.fails[op] = q[0], q[1:]
	}
	hook := s.Before
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if hook != nil {
		return hook(op, userID, taskID)
	}
	return nil
}

func (s *Store) Create(ctx context.Context, t task.Task) error {
	if err := s.before(OpCreate, t.UserID, t.ID); err != nil {
		return err
	}
	return s.Inner.Create(ctx, t)
}

func (s *Store) Get(ctx context.Context, userID, id string) (task.Task, taskstore.Version, error) {
	if err := s.before(OpGet, userID, id); err != nil {
		return task.Task{}, "", err
	}
	return s.Inner.Get(ctx, userID, id)
}

func (s *Store) Update(ctx context.Context, t task.Task, v taskstore.Version) error {
	if err := s.before(OpUpdate, t.UserID, t.ID); err != nil {
		return err
	}
	return s.Inner.Update(ctx, t, v)
}

func (s *Store) Complete(ctx context.Context, done task.Task, v taskstore.Version, next *task.Task) error {
	if err := s.before(OpComplete, done.UserID, done.ID); err != nil {
		return err
	}
	return s.Inner.Complete(ctx, done, v, next)
}

func (s *Store) Delete(ctx context.Context, userID, id string, v taskstore.Version) error {
	if err := s.before(OpDelete, userID, id); err != nil {
		return err
	}
	return s.Inner.Delete(ctx, userID, id, v)
}

func (s *Store) List(ctx context.Context, userID string) ([]task.Task, error) {
	if err := s.before(OpList, userID, ""); err != nil {
		return nil, err
	}
	return s.Inner.List(ctx, userID)
}

func (s *Store) Scan(ctx context.Context, userID string, from *task.Position, desc bool, n int) ([]task.Task, bool, error) {
	if err := s.before(OpScan, userID, ""); err != nil {
		return nil, false, err
	}
	return s.Inner.Scan(ctx, userID, from, desc, n)
}

func (s *Store) Agenda(ctx context.Context, from, to time.Time) ([]task.Task, error) {
	if err := s.before(OpAgenda, "", ""); err != nil {
		return nil, err
	}
	return s.Inner.Agenda(ctx, from, to)
}
