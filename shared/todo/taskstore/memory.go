package taskstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/todo-chatbot/functions/shared/todo/task"
)

// Memory is a Store in memory with the same semantics as Dapr, for tests
// of handlers.
type Memory struct {
	// Now is when a write happens, for the agenda; time.Now by default.
	Now func() time.Time

	mu     sync.Mutex
	tasks  map[string]memItem // by taskKey
	agenda map[string][]time.Time
	seq    int
}

type memItem struct {
	t task.Task
	v Version
}

// NewMemory returns an empty store.
func NewMemory() *Memory {
	return &Memory{Now: time.Now, tasks: map[string]memItem{}, agenda: map[string][]time.Time{}}
}

// put stores a deep copy, so callers cannot change stored tasks.
func (m *Memory) put(t task.Task) {
	b, _ := json.Marshal(t)
	var c task.Task
	_ = json.Unmarshal(b, &c)
	m.seq++
	k := taskKey(t.UserID, t.ID)
	m.tasks[k] = memItem{t: c, v: Version(strconv.Itoa(m.seq))}
	for _, minute := range agendaMinutes(t, m.Now()) {
		if !slices.ContainsFunc(m.agenda[k], minute.Equal) {
			m.agenda[k] = append(m.agenda[k], minute)
		}
	}
}

// add stores a new task within the user's MaxTasks.
func (m *Memory) add(t task.Task) error {
	n := 0
	for _, it := range m.tasks {
		if it.t.UserID == t.UserID {
			n++
		}
	}
	if n >= MaxTasks {
		return errFull
	}
	m.put(t)
	return nil
}

func (m *Memory) Create(_ context.Context, t task.Task) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.tasks[taskKey(t.UserID, t.ID)]; ok {
		return fmt.Errorf("%w: task %s exists", ErrConflict, t.ID)
	}
	return m.add(t)
}

func (m *Memory) Get(_ context.Context, userID, id string) (task.Task, Version, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.tasks[taskKey(userID, id)]
	if !ok {
		return task.Task{}, "", ErrNotFound
	}
	return it.t, it.v, nil
}

func (m *Memory) check(userID, id string, v Version) error {
	it, ok := m.tasks[taskKey(userID, id)]
	if !ok || it.v != v {
		return fmt.Errorf("%w: task %s", ErrConflict, id)
	}
	return nil
}

func (m *Memory) Update(_ context.Context, t task.Task, v Version) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(t.UserID, t.ID, v); err != nil {
		return err
	}
	m.put(t)
	return nil
}

func (m *Memory) Complete(_ context.Context, done task.Task, v Version, next *task.Task) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(done.UserID, done.ID, v); err != nil {
		return err
	}
	if next != nil {
		if _, ok := m.tasks[taskKey(next.UserID, next.ID)]; !ok {
			if err := m.add(*next); err != nil {
				return err
			}
		}
	}
	m.put(done)
	return nil
}

func (m *Memory) Delete(_ context.Context, userID, id string, v Version) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(userID, id, v); err != nil {
		return err
	}
	delete(m.tasks, taskKey(userID, id))
	return nil
}

// userTasks is the user's tasks in creation order.
func (m *Memory) userTasks(userID string) []task.Task {
	var out []task.Task
	for _, it := range m.tasks {
		if it.t.UserID == userID {
			out = append(out, it.t)
		}
	}
	slices.SortFunc(out, func(a, b task.Task) int { return task.PositionOf(a).Compare(task.PositionOf(b)) })
	return out
}

func (m *Memory) Scan(_ context.Context, userID string, from *task.Position, desc bool, n int) ([]task.Task, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	all := m.userTasks(userID)
	if desc {
		slices.Reverse(all)
	}
	var out []task.Task
	for _, t := range all {
		if from != nil {
			if c := task.PositionOf(t).Compare(*from); desc && c >= 0 || !desc && c <= 0 {
				continue
			}
		}
		if len(out) == n {
			return out, true, nil
		}
		out = append(out, t)
	}
	return out, false, nil
}

func (m *Memory) List(_ context.Context, userID string) ([]task.Task, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.userTasks(userID), nil
}

func (m *Memory) Agenda(_ context.Context, from, to time.Time) ([]task.Task, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	start := from.UTC().Truncate(AgendaMinute)
	var out []task.Task
	for k, minutes := range m.agenda {
		it, ok := m.tasks[k]
		if ok && slices.ContainsFunc(minutes, func(at time.Time) bool { return !at.Before(start) && at.Before(to) }) {
			out = append(out, it.t)
		}
	}
	return out, nil
}
