package idle

import (
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
