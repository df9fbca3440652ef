package taskstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/todo-chatbot/functions/shared/task"
)

// Memory is a Store in memory with the same semantics as Dapr, for tests
// of handlers.
type Memory struct {
	mu    sync.Mutex
	tasks map[string]memItem // by taskKey
	seq   int
}

type memItem struct {
	t task.Task
	v Version
}

// NewMemory returns an empty store.
func NewMemory() *Memory { return &Memory{tasks: map[string]memItem{}} }

// put stores a deep copy, so callers cannot change stored tasks.
func (m *Memory) put(t task.Task) {
	b, _ := json.Marshal(t)
	var c task.Task
	_ = json.Unmarshal(b, &c)
	m.seq++
	m.tasks[taskKey(t.UserID, t.ID)] = memItem{t: c, v: Version(strconv.Itoa(m.seq))}
}

func (m *Memory) Create(_ context.Context, t task.Task) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.tasks[taskKey(t.UserID, t.ID)]; ok {
		return fmt.Errorf("%w: task %s exists", ErrConflict, t.ID)
	}
	m.put(t)
	return nil
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
	m.put(done)
	if next != nil {
		if _, ok := m.tasks[taskKey(next.UserID, next.ID)]; !ok {
			m.put(*next)
		}
	}
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

func (m *Memory) List(_ context.Context, userID string) ([]task.Task, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []task.Task
	for _, it := range m.tasks {
		if it.t.UserID == userID {
			out = append(out, it.t)
		}
	}
	return out, nil
}

func (m *Memory) Users(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var users []string
	for _, it := range m.tasks {
		if !slices.Contains(users, it.t.UserID) {
			users = append(users, it.t.UserID)
		}
	}
	slices.Sort(users)
	return users, nil
}
