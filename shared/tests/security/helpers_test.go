package security_test

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/todo-chatbot/functions/shared/testkit/fakes"
)

var httpClient = &http.Client{Timeout: 30 * time.Second}

// do sends one request. body may be nil, a string (sent as is) or a value
// (sent as JSON); headers are name, value pairs.
func do(t *testing.T, method, url string, body any, headers ...string) fakes.Response {
	t.Helper()
	return fakes.Send(t, httpClient, method, url, body, headers...)
}

// randomToken is a fresh secret for one test run.
func randomToken(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

func uniqueUser(prefix string) string {
	return prefix + "-" + randomToken("u")[2:14]
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
