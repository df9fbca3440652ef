package secret

import (
	"fmt"
	"strings"
	"testing"
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
