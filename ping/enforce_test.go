package ping

import (
	"testing"
	"time"
)

func TestZeroEnforcerAllowsAll(t *testing.T) {
	var e Enforcer
	for i := range 100 {
		if e.Ping(t0.Add(time.Duration(i)), 0) {
			t.Fatal("the zero Enforcer found a violation")
		}
	}
}

func TestPingFloodStrikes(t *testing.T) {
	e := NewEnforcer(time.Second, false, 0)
	now := t0
	if e.Ping(now, 1) {
		t.Fatal("first ping")
	}
	// Three pings too close together: strikes 1, 2 (allowed), 3 (violation).
	for i, want := range []bool{false, false, true} {
		now = now.Add(100 * time.Millisecond)
		if got := e.Ping(now, 1); got != want {
			t.Fatalf("ping %d: violation %v, want %v (strikes %d)", i+2, got, want, e.Strikes())
		}
	}
}

func TestPingsFarApartAreFine(t *testing.T) {
	e := NewEnforcer(time.Second, false, 2)
	now := t0
	for i := range 50 {
		now = now.Add(time.Second)
		if e.Ping(now, 1) {
			t.Fatalf("ping %d flagged", i)
		}
	}
}

func TestDataResetsStrikes(t *testing.T) {
	e := NewEnforcer(time.Second, false, 1)
	now := t0
	e.Ping(now, 1)
	now = now.Add(time.Millisecond)
	e.Ping(now, 1) // strike 1
	e.DataSent()
	now = now.Add(time.Millisecond)
	if e.Ping(now, 1) || e.Strikes() != 0 {
		t.Fatalf("strikes %d after the server sent data", e.Strikes())
	}
}

func TestPingsWithoutStreams(t *testing.T) {
	strict := NewEnforcer(time.Second, false, 1)
	permit := NewEnforcer(time.Second, true, 1)
	now := t0
	var strictViolated, permitViolated bool
	for range 3 {
		now = now.Add(time.Minute) // an idle connection pinged every minute
		strictViolated = strict.Ping(now, 0) || strictViolated
		permitViolated = permit.Ping(now, 0) || permitViolated
	}
	if !strictViolated || permitViolated {
		t.Fatalf("PINGs every minute without streams: strict violated=%v (want true), permitting violated=%v (want false)", strictViolated, permitViolated)
	}
}
