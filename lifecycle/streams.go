package lifecycle

import (
	"slices"
	"sync/atomic"
)

// streamSet is the set of streams open on the wire. Client streams open in
// increasing id order (RFC 9113 §5.1.1), so appending keeps the slice sorted
// and the usual open/close pattern costs no allocation once it has grown.
// Changed only under the supervisor's mutex; client, the number of client
// (odd) streams in the set, can be read without it (Conn.checkStreamLimit).
type streamSet struct {
	ids    []uint32
	client atomic.Int32
}

// count adds d to the client streams if id is one.
func (s *streamSet) count(id uint32, d int32) {
	if id%2 == 1 {
		s.client.Add(d)
	}
}

func (s *streamSet) len() int { return len(s.ids) }

// has reports whether id is open.
func (s *streamSet) has(id uint32) bool {
	_, found := slices.BinarySearch(s.ids, id)
	return found
}

// add opens id; ids lower than the highest (a server push) are inserted in order.
func (s *streamSet) add(id uint32) {
	if n := len(s.ids); n == 0 || s.ids[n-1] < id {
		s.ids = append(s.ids, id)
		s.count(id, 1)
		return
	}
	i, found := slices.BinarySearch(s.ids, id)
	if !found {
		s.ids = slices.Insert(s.ids, i, id)
		s.count(id, 1)
	}
}

// remove closes id and reports whether it was open. It shifts the rest down
// rather than reslicing, so the backing array is reused.
func (s *streamSet) remove(id uint32) bool {
	i := 0
	if len(s.ids) == 0 || s.ids[0] != id { // the oldest stream usually ends first
		var found bool
		if i, found = slices.BinarySearch(s.ids, id); !found {
			return false
		}
	}
	s.ids = slices.Delete(s.ids, i, i+1)
	s.count(id, -1)
	return true
}

// dropAbove removes the client streams above last: the server's GOAWAY says it
// never processed them (RFC 9113 §6.8). It returns how many it removed.
func (s *streamSet) dropAbove(last uint32) int {
	n := 0
	s.ids = slices.DeleteFunc(s.ids, func(id uint32) bool {
		drop := id%2 == 1 && id > last
		if drop {
			n++
		}
		return drop
	})
	s.client.Add(int32(-n))
	return n
}

// snapshot returns a copy of the open ids.
func (s *streamSet) snapshot() []uint32 { return slices.Clone(s.ids) }
