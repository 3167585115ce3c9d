package lifecycle

import (
	"slices"
	"sync/atomic"
)

// streamSet is the set of streams open on the wire, counted as both peers
// count them (RFC 9113 §5.1.2): a stream is open until both its sides have
// ended (END_STREAM each way) or either peer reset it. Client streams open
// in increasing id order (RFC 9113 §5.1.1), so appending keeps ids sorted
// and the usual open/close pattern costs no allocation once the slice has
// grown. Changed only under the supervisor's mutex; client, the number of
// client (odd) streams in the set, can be read without it (the stream
// limit's check on the server's reading goroutine).
type streamSet struct {
	// ids holds the open streams, sorted by id; clientDone marks those
	// whose client side has ended.
	ids []uint32
	// serverFirst holds the streams whose server side ended while the
	// client's is still open: a response that finished before its
	// request's body (rare; x/net then resets the stream).
	serverFirst []uint32
	client      atomic.Uint32
}

// clientDone marks, in streamSet.ids, a stream whose client side has
// ended. Stream ids have 31 bits (RFC 9113 §5.1.1): the top bit is free.
const clientDone = 1 << 31

func (s *streamSet) len() int { return len(s.ids) }

// find returns the index of id in s.ids.
func (s *streamSet) find(id uint32) (int, bool) {
	if len(s.ids) > 0 && s.ids[0]&^clientDone == id { // the oldest stream usually ends first
		return 0, true
	}
	return slices.BinarySearchFunc(s.ids, id, func(e, id uint32) int {
		e &^= clientDone
		switch {
		case e < id:
			return -1
		case e > id:
			return 1
		}
		return 0
	})
}

// has reports whether id is open.
func (s *streamSet) has(id uint32) bool {
	_, ok := s.find(id)
	return ok
}

// add opens id, with its client side ended already if clientEnded (a
// request without a body, a server push), and reports whether it was new.
// Ids lower than the highest are inserted in order.
func (s *streamSet) add(id uint32, clientEnded bool) bool {
	e := id
	if clientEnded {
		e |= clientDone
	}
	if n := len(s.ids); n == 0 || s.ids[n-1]&^clientDone < id {
		s.ids = append(s.ids, e)
	} else if i, found := s.find(id); !found {
		s.ids = slices.Insert(s.ids, i, e)
	} else {
		return false
	}
	if id%2 == 1 {
		s.client.Add(1)
	}
	return true
}

// removeAt closes the stream at index i. It shifts the rest down rather
// than reslicing, so the backing array is reused.
func (s *streamSet) removeAt(i int) {
	id := s.ids[i] &^ clientDone
	copy(s.ids[i:], s.ids[i+1:]) // slices.Delete, by hand: its frame was 3 times this one's
	s.ids = s.ids[:len(s.ids)-1]
	if id%2 == 1 {
		s.client.Add(^uint32(0))
	}
	if len(s.serverFirst) > 0 {
		s.dropServerFirst(id)
	}
}

// dropServerFirst forgets id in serverFirst. Out of line: removeAt runs on
// x/net's flush goroutine at every response, whose stack is small
// (DESIGN.md, rule 7).
//
//go:noinline
func (s *streamSet) dropServerFirst(id uint32) {
	s.serverFirst = slices.DeleteFunc(s.serverFirst, func(e uint32) bool { return e == id })
}

// clientEnded notes the client's END_STREAM on id and reports whether the
// stream is now closed.
func (s *streamSet) clientEnded(id uint32) (closed bool) {
	i, ok := s.find(id)
	if !ok {
		return false
	}
	if slices.Contains(s.serverFirst, id) {
		s.removeAt(i)
		return true
	}
	s.ids[i] |= clientDone
	return false
}

// serverEnded notes the server's END_STREAM on id. It reports whether the
// stream was open, and whether it is now closed.
func (s *streamSet) serverEnded(id uint32) (open, closed bool) {
	i, ok := s.find(id)
	if !ok {
		return false, false
	}
	if s.ids[i]&clientDone != 0 || id%2 == 0 { // the client never sends on a pushed stream
		s.removeAt(i)
		return true, true
	}
	if !slices.Contains(s.serverFirst, id) {
		s.serverFirst = append(s.serverFirst, id)
	}
	return true, false
}

// reset closes id, reset by either peer. It reports whether the stream was
// open, and whether the server had completed its response.
func (s *streamSet) reset(id uint32) (open, completed bool) {
	i, ok := s.find(id)
	if !ok {
		return false, false
	}
	completed = slices.Contains(s.serverFirst, id)
	s.removeAt(i)
	return true, completed
}

// dropAbove removes the client streams above last: a GOAWAY of the server
// says it never processed them (RFC 9113 §6.8).
func (s *streamSet) dropAbove(last uint32) {
	for i := len(s.ids) - 1; i >= 0; i-- {
		if id := s.ids[i] &^ clientDone; id%2 == 1 && id > last {
			s.removeAt(i)
		}
	}
}

// snapshot returns the open ids.
func (s *streamSet) snapshot() []uint32 {
	if len(s.ids) == 0 {
		return nil
	}
	ids := make([]uint32, len(s.ids))
	for i, e := range s.ids {
		ids[i] = e &^ clientDone
	}
	return ids
}
