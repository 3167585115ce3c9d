package drain

import (
	"strings"
	"testing"
	"time"
)

func TestZeroConfigWorks(t *testing.T) {
	var c Config
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	got := c.Timing(nil)
	want := Timing{Grace: DefaultGrace, PingTimeout: DefaultPingTimeoutFloor, Settle: DefaultSettle, Linger: DefaultLinger}
	if got != want {
		t.Fatalf("Timing = %+v, want %+v", got, want)
	}
}

func TestTimingDerivesPingTimeout(t *testing.T) {
	c := Config{Grace: 10 * time.Second}
	got := c.Timing(func(floor time.Duration) time.Duration { return floor + 3*time.Second })
	if got.PingTimeout != 4*time.Second {
		t.Fatalf("PingTimeout = %v", got.PingTimeout)
	}
	c = Config{Grace: 2 * time.Second, PingTimeout: 5 * time.Second}
	if got := c.Timing(nil); got.PingTimeout != 2*time.Second {
		t.Fatalf("PingTimeout %v exceeds the grace", got.PingTimeout)
	}
}

func TestValidateNamesField(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{Grace: -time.Second}, "drain: grace must be >= 0, got -1s"},
		{Config{PingTimeout: -5 * time.Millisecond}, "drain: ping_timeout must be >= 0, got -5ms"},
		{Config{Linger: -1}, "drain: linger must be >= 0, got -1ns"},
		{Config{Settle: -time.Second}, "drain: settle must be >= 0, got -1s"},
		{Config{FirstStreamWait: -time.Minute}, "drain: first_stream_wait must be >= 0, got -1m0s"},
	} {
		err := tc.c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.c, err, tc.want)
		}
	}
}
