package notify_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/todo-chatbot/functions/shared/runtime/problem"
	"github.com/todo-chatbot/functions/shared/runtime/request"
	"github.com/todo-chatbot/functions/shared/todo/notify"
)

// FuzzMessage checks the rules of POST /notifications bodies: an accepted
// message has a valid user id, a trimmed title of 1 to 200 characters and
// a body of at most 2000; anything else is a 400 naming the fields.
func FuzzMessage(f *testing.F) {
	f.Add("user-1", "Hello", "text")
	f.Add("user-1", "   ", "")
	f.Add("../etc", "x", "")
	f.Add("user%2F1", "x", "")
	f.Add("a b", "x", "")
	f.Add("user-1", strings.Repeat("é", 201), "")
	f.Add("user-1", "x", strings.Repeat("b", 2001))
	f.Add("user-1", "\xff\xfe", "\x00")
	f.Fuzz(func(t *testing.T, user, title, body string) {
		n, err := notify.Message(notify.MessageInput{UserID: user, Title: title, Body: body}, "webhook")
		if err != nil {
			var p *problem.Problem
			if !errors.As(err, &p) || p.Status != 400 || len(p.Errors) == 0 {
				t.Fatalf("refusal is not a 400 naming fields: %v", err)
			}
			return
		}
		if request.ValidID(n.UserID) != nil || n.UserID != user {
			t.Fatalf("accepted user id %q", user)
		}
		if c := utf8.RuneCountInString(n.Title); c < 1 || c > 200 || n.Title != strings.TrimSpace(n.Title) {
			t.Fatalf("accepted title %q", n.Title)
		}
		if utf8.RuneCountInString(n.Body) > 2000 {
			t.Fatalf("accepted a body of %d characters", utf8.RuneCountInString(n.Body))
		}
		if n.Kind != notify.KindMessage || n.Status != notify.StatusPending || n.ID == "" {
			t.Fatalf("message %+v", n)
		}
	})
}
