package idle

import (
	"errors"
	"testing"
	"time"
)

func TestZeroPolicyIsValid(t *testing.T) {
	if err := (Policy{}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateNamesField(t *testing.T) {
	err := Policy{IdleTimeout: -5 * time.Second}.Validate()
	if err == nil || err.Error() != "idle: idle_timeout must be >= 0, got -5s" {
		t.Fatalf("Validate = %v", err)
	}
}

// TestSettingErrorIsTyped: every setting error is a *SettingError that
// names the section, the field, the value and what is wanted, whether it
// comes from Validate, a document or the environment.
func TestSettingErrorIsTyped(t *testing.T) {
	env := map[string]string{"H2_PING_MAX_STRIKES": "many"}
	for _, tc := range []struct {
		err  error
		want SettingError
	}{
		{Policy{HeaderTimeout: -time.Second}.Validate(), SettingError{Section: "idle", Field: "header_timeout", Value: "-1s", Want: ">= 0"}},
		{new(Policy).ParseJSON([]byte(`{"idle_timeout": 5}`)), SettingError{Section: "idle", Field: "idle_timeout", Value: "5", Want: "a Go duration such as 30s or 1m30s"}},
		{new(Policy).ParseYAML([]byte("ping_permit_without_stream: sure")), SettingError{Section: "idle", Field: "ping_permit_without_stream", Value: `"sure"`, Want: "true or false"}},
		{new(Policy).FromEnv("H2_", func(k string) (string, bool) { v, ok := env[k]; return v, ok }),
			SettingError{Section: "idle", Field: "ping_max_strikes", Source: "H2_PING_MAX_STRIKES", Value: `"many"`, Want: "an integer"}},
	} {
		var se *SettingError
		if !errors.As(tc.err, &se) || *se != tc.want {
			t.Errorf("%v: got %+v, want %+v", tc.err, se, tc.want)
		}
	}
}
