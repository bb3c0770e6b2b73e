package load

import "testing"

func TestCookieHeader(t *testing.T) {
	got, err := CookieHeader("pre=0", map[string]string{"session": "abc", "b": "two words"})
	if want := `pre=0; b="two words"; session=abc`; err != nil || got != want {
		t.Errorf("CookieHeader = %q, %v; want %q", got, err, want)
	}
	if got, err := CookieHeader("", nil); err != nil || got != "" {
		t.Errorf("no cookies: %q, %v", got, err)
	}
	for _, bad := range []map[string]string{{"a;b": "1"}, {"a": "x;y"}} {
		if _, err := CookieHeader("", bad); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
