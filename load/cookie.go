package load

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// CookieHeader joins an explicit Cookie header (may be "") and the cookies
// of Options into one Cookie header value, the cookies sorted by name so
// that runs are repeatable, for the HTTP drivers. A cookie that is not
// valid is an error.
func CookieHeader(header string, cookies map[string]string) (string, error) {
	parts := make([]string, 0, len(cookies)+1)
	if header != "" {
		parts = append(parts, header)
	}
	for _, name := range slices.Sorted(maps.Keys(cookies)) {
		c := http.Cookie{Name: name, Value: cookies[name]}
		if err := c.Valid(); err != nil {
			return "", fmt.Errorf("cookie %q: %w", name, err)
		}
		// With only a name and a value set, String is "name=value", the
		// value quoted when it must be.
		parts = append(parts, c.String())
	}
	return strings.Join(parts, "; "), nil
}
