package secret

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestValueEqual(t *testing.T) {
	t.Parallel()
	v := NewValue("s3cret-token")
	cases := []struct {
		other string
		want  bool
	}{
		{"s3cret-token", true},
		{"s3cret-tokeN", false}, // last byte differs
		{"S3cret-token", false}, // first byte differs
		{"s3cret-toke", false},  // a prefix
		{"s3cret-token-", false},
		{"", false},
	}
	for _, c := range cases {
		if got := v.Equal(c.other); got != c.want {
			t.Errorf("Equal(%q) = %v, want %v", c.other, got, c.want)
		}
	}
	if !(Value{}).Equal("") {
		t.Error("the zero Value should equal the empty string")
	}
}

func TestValueNeverPrints(t *testing.T) {
	t.Parallel()
	v := NewValue("s3cret-token")
	for _, s := range []string{fmt.Sprint(v), fmt.Sprintf("%v %s %q %+v %#v", v, v, v, v, v), v.String()} {
		if s == "" || strings.Contains(s, "s3cret") {
			t.Errorf("rendered %q", s)
		}
	}
}

type countingGetter struct {
	calls int
	token string
}

func (g *countingGetter) GetSecret(_ context.Context, _, _ string, _ map[string]string) (map[string]string, error) {
	g.calls++
	return map[string]string{"token": g.token}, nil
}

func TestStoreCachedFor(t *testing.T) {
	t.Parallel()
	g := &countingGetter{token: "first"}
	now := time.Unix(0, 0)
	s := NewStore(g, "secrets").CachedFor(time.Minute)
	s.now = func() time.Time { return now }
	ctx := context.Background()
	for range 3 {
		v, err := s.Get(ctx, "notify-webhook", "token")
		if err != nil || !v.Equal("first") {
			t.Fatalf("Get = %v, %v", v, err)
		}
	}
	if g.calls != 1 {
		t.Fatalf("three reads within a minute made %d calls, want 1", g.calls)
	}
	g.token = "rotated"
	now = now.Add(time.Minute)
	if v, _ := s.Get(ctx, "notify-webhook", "token"); !v.Equal("rotated") || g.calls != 2 {
		t.Fatalf("after a minute the rotated secret is read: got %v after %d calls", v, g.calls)
	}
	if _, err := s.Get(ctx, "notify-webhook", "missing"); err == nil {
		t.Fatal("a missing field is an error, cached or not")
	}

	uncached := NewStore(g, "secrets")
	_, _ = uncached.Get(ctx, "notify-webhook", "token")
	_, _ = uncached.Get(ctx, "notify-webhook", "token")
	if g.calls != 4 {
		t.Fatalf("without a cache every Get reads the store: %d calls, want 4", g.calls)
	}
}
