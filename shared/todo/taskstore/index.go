package taskstore

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/todo-chatbot/functions/shared/todo/task"
)

// A user's task index is kept in creation order, in pages of at most
// PageSize positions, listed by a head that holds each page's number,
// size and first position. A write touches the head and one page (two
// when the page splits), so its cost does not grow with the list; a
// listing reads the head and only the pages its window spans.
const (
	// PageSize bounds the positions in one index page.
	PageSize = 200
	// MaxTasks is the most tasks one user may have. It bounds the head
	// (at most MaxTasks/(PageSize/2) pages once pages split) and the
	// listings that cannot be served from the index.
	MaxTasks = 10_000
)

func headKey(userID string) string        { return "taskindex/" + userID }
func pageKey(userID string, n int) string { return headKey(userID) + "/" + strconv.Itoa(n) }

type head struct {
	Count int       `json:"count"`
	Next  int       `json:"next"` // number of the next new page
	Pages []pageRef `json:"pages"`
}

type pageRef struct {
	N     int           `json:"n"`
	Count int           `json:"c"`
	First task.Position `json:"f"`
}

type page struct {
	Entries []task.Position `json:"e"`
}

// find is the index of the page where p belongs: the last whose first
// position is not after p, or the first page.
func (h *head) find(p task.Position) int {
	i := 0
	for j, r := range h.Pages {
		if r.First.Compare(p) <= 0 {
			i = j
		}
	}
	return i
}

// pageWrite is a page to store (or to delete, when its entries are empty)
// with the ETag it was read at ("" for a new page).
type pageWrite struct {
	n    int
	pg   page
	etag string
}

// insert puts p into pg, page i of h (read at etag; i is -1 when h has no
// page yet), and returns the pages to write.
func (h *head) insert(i int, pg page, etag string, p task.Position) []pageWrite {
	if i < 0 {
		h.Pages = []pageRef{{N: h.Next}}
		h.Next++
		i = 0
	}
	at, found := slices.BinarySearchFunc(pg.Entries, p, task.Position.Compare)
	if found {
		return nil
	}
	pg.Entries = slices.Insert(pg.Entries, at, p)
	h.Count++
	if len(pg.Entries) <= PageSize {
		h.Pages[i].Count, h.Pages[i].First = len(pg.Entries), pg.Entries[0]
		return []pageWrite{{h.Pages[i].N, pg, etag}}
	}
	half := len(pg.Entries) / 2
	left := page{Entries: slices.Clone(pg.Entries[:half])}
	right := page{Entries: slices.Clone(pg.Entries[half:])}
	h.Pages[i].Count, h.Pages[i].First = len(left.Entries), left.Entries[0]
	r := pageRef{N: h.Next, Count: len(right.Entries), First: right.Entries[0]}
	h.Next++
	h.Pages = slices.Insert(h.Pages, i+1, r)
	return []pageWrite{{h.Pages[i].N, left, etag}, {r.N, right, ""}}
}

// remove drops p from pg, page i of h, and returns the page to write; a
// page left empty is deleted and leaves the head.
func (h *head) remove(i int, pg page, etag string, p task.Position) []pageWrite {
	at, found := slices.BinarySearchFunc(pg.Entries, p, task.Position.Compare)
	if !found {
		return nil
	}
	pg.Entries = slices.Delete(pg.Entries, at, at+1)
	h.Count--
	n := h.Pages[i].N
	if len(pg.Entries) == 0 {
		h.Pages = slices.Delete(h.Pages, i, i+1)
	} else {
		h.Pages[i].Count, h.Pages[i].First = len(pg.Entries), pg.Entries[0]
	}
	return []pageWrite{{n, pg, etag}}
}

// window is the pages to read for up to n positions after from (nil: from
// the start) in creation order, newest first when desc, in reading order.
func (h *head) window(from *task.Position, desc bool, n int) []pageRef {
	if len(h.Pages) == 0 {
		return nil
	}
	i, step := 0, 1
	if desc {
		i, step = len(h.Pages)-1, -1
	}
	if from != nil {
		i = h.find(*from)
	}
	var out []pageRef
	// The page from falls in may hold positions on its other side, so it
	// does not count towards n.
	got, counts := 0, from == nil
	for ; i >= 0 && i < len(h.Pages) && got < n; i += step {
		out = append(out, h.Pages[i])
		if counts {
			got += h.Pages[i].Count
		}
		counts = true
	}
	return out
}

// errFull: the user has MaxTasks tasks.
var errFull = fmt.Errorf("%w: a user may have at most %d tasks", ErrFull, MaxTasks)
