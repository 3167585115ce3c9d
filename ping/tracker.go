package ping

import (
	"encoding/binary"
	"math/rand/v2"
	"time"
)

// Tag is the first two bytes of every PING h2lifecycle sends.
const Tag = "h2"

// maxOutstanding bounds the pings awaiting an ACK; the oldest is forgotten
// when a new one would exceed it.
const maxOutstanding = 4

// Ours reports whether PING data carries h2lifecycle's tag. It does not say
// whether this connection sent it; [Tracker.Ack] does.
func Ours(data [8]byte) bool { return data[0] == Tag[0] && data[1] == Tag[1] }

type outstanding struct {
	data [8]byte
	sent time.Time
}

// Tracker is the PING bookkeeping of one connection. Its zero value is ready
// to use. It is not safe for concurrent use.
type Tracker struct {
	key    uint64
	seq    uint64
	out    [maxOutstanding]outstanding
	n      int // outstanding pings, oldest first
	srtt   time.Duration
	rttvar time.Duration
	have   bool
}

// Next returns the opaque data of a new PING sent at now and records it as
// outstanding.
func (t *Tracker) Next(now time.Time) [8]byte {
	if t.key == 0 {
		t.key = rand.Uint64() | 1
	}
	t.seq++
	var d [8]byte
	d[0], d[1] = Tag[0], Tag[1]
	// A bijective mix of the sequence under the key: distinct per ping,
	// unpredictable without the key.
	v := (t.seq ^ t.key) * 0x9e3779b97f4a7c15
	v ^= v >> 29
	binary.BigEndian.PutUint32(d[2:6], uint32(v>>32))
	binary.BigEndian.PutUint16(d[6:8], uint16(v))
	if t.n == maxOutstanding {
		copy(t.out[:], t.out[1:])
		t.n--
	}
	t.out[t.n] = outstanding{d, now}
	t.n++
	return d
}

// Outstanding returns how many pings await an ACK.
func (t *Tracker) Outstanding() int { return t.n }

// Ack matches the data of a PING ACK received at now against the outstanding
// pings. If it is one of ours it is no longer outstanding, its round trip
// feeds the estimate, and Ack returns it.
func (t *Tracker) Ack(data [8]byte, now time.Time) (rtt time.Duration, ok bool) {
	if !Ours(data) {
		return 0, false
	}
	for i := 0; i < t.n; i++ {
		if t.out[i].data != data {
			continue
		}
		rtt = max(now.Sub(t.out[i].sent), 0)
		copy(t.out[i:], t.out[i+1:t.n])
		t.n--
		t.Observe(rtt)
		return rtt, true
	}
	return 0, false
}

// Observe feeds a round-trip sample measured by other means.
func (t *Tracker) Observe(rtt time.Duration) {
	if !t.have {
		t.srtt, t.rttvar, t.have = rtt, rtt/2, true
		return
	}
	d := t.srtt - rtt
	if d < 0 {
		d = -d
	}
	t.rttvar = (3*t.rttvar + d) / 4
	t.srtt = (7*t.srtt + rtt) / 8
}

// RTT returns the smoothed round-trip time and its variation; ok is false
// before the first sample.
func (t *Tracker) RTT() (srtt, rttvar time.Duration, ok bool) {
	return t.srtt, t.rttvar, t.have
}

// Timeout returns how long to wait for an ACK: twice SRTT+4·RTTVAR (an ACK
// can queue behind request bodies the peer is uploading), and never less
// than floor. Before any sample it is floor.
func (t *Tracker) Timeout(floor time.Duration) time.Duration {
	if !t.have {
		return floor
	}
	return max(floor, 2*(t.srtt+4*t.rttvar))
}
