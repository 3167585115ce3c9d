package ping

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func TestDataIsTaggedAndDistinct(t *testing.T) {
	var a, b Tracker
	seen := map[[8]byte]bool{}
	for i := 0; i < 1000; i++ {
		for _, tr := range []*Tracker{&a, &b} {
			d := tr.Next(t0)
			if !Ours(d) {
				t.Fatalf("ping data %x lacks the tag", d)
			}
			if seen[d] {
				t.Fatalf("ping data %x repeated", d)
			}
			seen[d] = true
		}
	}
}

func TestAckMatchesOnlyOwnPings(t *testing.T) {
	var a, b Tracker
	da := a.Next(t0)
	db := b.Next(t0)
	if _, ok := a.Ack(db, t0); ok {
		t.Fatal("connection a accepted connection b's ping")
	}
	if _, ok := a.Ack([8]byte{1, 2, 3, 4, 5, 6, 7, 8}, t0); ok {
		t.Fatal("accepted foreign ping data")
	}
	rtt, ok := a.Ack(da, t0.Add(3*time.Millisecond))
	if !ok || rtt != 3*time.Millisecond {
		t.Fatalf("Ack = %v, %v", rtt, ok)
	}
	if _, ok := a.Ack(da, t0.Add(4*time.Millisecond)); ok {
		t.Fatal("a repeated ACK matched twice")
	}
	if a.Outstanding() != 0 {
		t.Fatalf("outstanding %d", a.Outstanding())
	}
}

func TestOutstandingIsBounded(t *testing.T) {
	var tr Tracker
	var first [8]byte
	for i := 0; i < maxOutstanding+2; i++ {
		d := tr.Next(t0.Add(time.Duration(i) * time.Millisecond))
		if i == 0 {
			first = d
		}
	}
	if tr.Outstanding() != maxOutstanding {
		t.Fatalf("outstanding %d", tr.Outstanding())
	}
	if _, ok := tr.Ack(first, t0); ok {
		t.Fatal("the oldest ping was not forgotten")
	}
}

func TestRTTEstimate(t *testing.T) {
	var tr Tracker
	if got := tr.Timeout(time.Second); got != time.Second {
		t.Fatalf("timeout without samples = %v, want the floor", got)
	}
	tr.Observe(100 * time.Millisecond)
	srtt, rttvar, ok := tr.RTT()
	if !ok || srtt != 100*time.Millisecond || rttvar != 50*time.Millisecond {
		t.Fatalf("first sample: %v %v %v", srtt, rttvar, ok)
	}
	tr.Observe(200 * time.Millisecond)
	// RFC 6298 §2.3: RTTVAR = 3/4·50 + 1/4·|100-200| = 62.5ms; SRTT = 7/8·100 + 1/8·200 = 112.5ms.
	srtt, rttvar, _ = tr.RTT()
	if srtt != 112500*time.Microsecond || rttvar != 62500*time.Microsecond {
		t.Fatalf("second sample: srtt %v rttvar %v", srtt, rttvar)
	}
	if got, want := tr.Timeout(100*time.Millisecond), 2*(srtt+4*rttvar); got != want {
		t.Fatalf("timeout %v, want %v", got, want)
	}
	if got := tr.Timeout(10 * time.Second); got != 10*time.Second {
		t.Fatalf("timeout %v below the floor", got)
	}
}

func TestZeroTrackerAllocs(t *testing.T) {
	var tr Tracker
	now := t0
	if n := testing.AllocsPerRun(100, func() {
		d := tr.Next(now)
		tr.Ack(d, now.Add(time.Millisecond))
	}); n != 0 {
		t.Fatalf("%v allocs per ping", n)
	}
}
