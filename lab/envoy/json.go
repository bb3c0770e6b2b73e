package envoy

import (
	"encoding/json"
	"fmt"
)

// jsonOf turns a decoded YAML document into JSON: YAML maps may have
// non-string keys, which JSON cannot carry.
func jsonOf(doc any) ([]byte, error) {
	var conv func(any) (any, error)
	conv = func(v any) (any, error) {
		switch t := v.(type) {
		case map[string]any:
			for k, e := range t {
				c, err := conv(e)
				if err != nil {
					return nil, err
				}
				t[k] = c
			}
			return t, nil
		case map[any]any:
			m := map[string]any{}
			for k, e := range t {
				c, err := conv(e)
				if err != nil {
					return nil, err
				}
				m[fmt.Sprint(k)] = c
			}
			return m, nil
		case []any:
			for i, e := range t {
				c, err := conv(e)
				if err != nil {
					return nil, err
				}
				t[i] = c
			}
			return t, nil
		}
		return v, nil
	}
	c, err := conv(doc)
	if err != nil {
		return nil, err
	}
	return json.Marshal(c)
}
