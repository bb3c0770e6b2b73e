package load

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// DecodeOptions decodes the JSON object of an SMP client's
// additional_options into v, the protocol's options struct. It is strict,
// as a typo in an option must not pass silently: unknown keys and trailing
// data are errors, and errors name the key and list knownKeys. "" or
// "null" leaves v as it is.
func DecodeOptions(additionalOptionsJSON string, v any, knownKeys string) error {
	s := strings.TrimSpace(additionalOptionsJSON)
	if s == "" || s == "null" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("additional_options: %w (known keys: %s)", optionsJSONError(err), knownKeys)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("additional_options: trailing data after the JSON object")
	}
	return nil
}

// optionsJSONError makes encoding/json's messages read like the options'
// documentation.
func optionsJSONError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Errorf("%s: want a %s, got a JSON %s", te.Field, te.Type, te.Value)
	}
	if m := err.Error(); strings.HasPrefix(m, "json: unknown field ") {
		return errors.New("unknown key " + strings.TrimPrefix(m, "json: unknown field "))
	}
	return err
}
