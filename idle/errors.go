package idle

import "fmt"

// SettingError is a setting out of range or a value that does not parse.
// It names the setting as configuration files do, the value given and what
// the setting accepts; packages idle, drain and server return it from their
// Validate methods and parsers (match it with errors.As).
type SettingError struct {
	Section string // the package the setting belongs to: "idle", "drain" or "server"
	Field   string // as configuration files name it: "idle_timeout"
	Source  string // where the value came from, if not from Go: "H2_IDLE_TIMEOUT"
	Value   string // the value given, as written
	Want    string // what the setting accepts: ">= 0", "a Go duration such as 30s or 1m30s"
}

func (e *SettingError) Error() string {
	name := e.Field
	if e.Source != "" {
		name += " (from " + e.Source + ")"
	}
	return fmt.Sprintf("%s: %s must be %s, got %s", e.Section, name, e.Want, e.Value)
}

// Wants of the SettingErrors of this package.
const (
	wantNonNegative = ">= 0"
	wantDuration    = "a Go duration such as 30s or 1m30s"
)

// NonNegative returns a SettingError for a negative value of a duration or
// count setting of section, or nil if v is not negative.
func NonNegative[T ~int | ~int64](section, field string, v T) error {
	if v >= 0 {
		return nil
	}
	return &SettingError{Section: section, Field: field, Value: fmt.Sprint(v), Want: wantNonNegative}
}
