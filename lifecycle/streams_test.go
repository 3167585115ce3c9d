package lifecycle

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestStreamSet: a stream stays open until both its sides have ended or
// either peer reset it (RFC 9113 §5.1.2), whichever side ends first; the
// client count follows; opening and closing the usual way allocates
// nothing.
func TestStreamSet(t *testing.T) {
	var s streamSet
	s.add(1, true)  // a GET: the client's side ended with its HEADERS
	s.add(3, false) // a POST whose body is still coming
	s.add(5, false)
	s.add(2, true) // a pushed stream, below the highest
	s.add(3, true) // again: no change
	if got := s.snapshot(); !slices.Equal(got, []uint32{1, 2, 3, 5}) || s.client.Load() != 3 {
		t.Fatalf("ids %v, %d client streams", got, s.client.Load())
	}
	if open, closed := s.serverEnded(1); !open || !closed {
		t.Fatal("stream 1: the response ends a stream whose client side ended")
	}
	if open, closed := s.serverEnded(3); !open || closed || !s.has(3) || s.client.Load() != 2 {
		t.Fatal("stream 3: a response that ends before the request body leaves the stream open")
	}
	if !s.clientEnded(3) || s.has(3) {
		t.Fatal("stream 3: the body's end closes it")
	}
	if s.clientEnded(5) || !s.has(5) {
		t.Fatal("stream 5: the body's end alone leaves it open")
	}
	if open, closed := s.serverEnded(2); !open || !closed {
		t.Fatal("stream 2: a pushed stream ends with the server's END_STREAM")
	}
	s.add(7, false)
	s.serverEnded(7)
	if open, completed := s.reset(7); !open || !completed {
		t.Fatal("stream 7: the reset after a complete response")
	}
	if open, completed := s.reset(5); !open || completed || s.len() != 0 || s.client.Load() != 0 {
		t.Fatalf("stream 5 reset: %v left, %d client streams", s.snapshot(), s.client.Load())
	}
	if open, _ := s.reset(9); open {
		t.Fatal("stream 9 was never open")
	}
	for _, id := range []uint32{11, 13, 14, 15} {
		s.add(id, false)
	}
	s.dropAbove(11)
	if !slices.Equal(s.snapshot(), []uint32{11, 14}) || s.client.Load() != 1 {
		t.Fatalf("dropAbove(11) left %v, %d client streams", s.snapshot(), s.client.Load())
	}
	allocs := testing.AllocsPerRun(100, func() {
		s.add(101, true)
		s.serverEnded(101)
		s.add(103, false)
		s.clientEnded(103)
		s.serverEnded(103)
	})
	if allocs != 0 {
		t.Fatalf("open+close allocates %v times", allocs)
	}
}

// TestStreamSetModel drives a streamSet and a map-based model with random
// operations and compares them after each.
func TestStreamSetModel(t *testing.T) {
	type model struct{ client, server bool }
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 1))
		var s streamSet
		m := map[uint32]*model{}
		next := uint32(1)
		for range 300 {
			id := 1 + uint32(rng.IntN(int(next)+2))
			switch rng.IntN(6) {
			case 0:
				clientEnded := rng.IntN(2) == 0
				if rng.IntN(4) == 0 {
					id = 2 * (1 + uint32(rng.IntN(20))) // a push
					clientEnded = true
				} else {
					id = next
					next += 2
				}
				s.add(id, clientEnded)
				if m[id] == nil {
					m[id] = &model{client: clientEnded}
				}
			case 1:
				closed := s.clientEnded(id)
				want := false
				if st := m[id]; st != nil && id%2 == 1 {
					st.client = true
					if st.server {
						delete(m, id)
						want = true
					}
				}
				if closed != want {
					t.Fatalf("seed %d: clientEnded(%d) = %v, want %v", seed, id, closed, want)
				}
			case 2, 3:
				open, closed := s.serverEnded(id)
				st := m[id]
				wantClosed := st != nil && (st.client || id%2 == 0)
				if st != nil {
					st.server = true
					if wantClosed {
						delete(m, id)
					}
				}
				if open != (st != nil) || closed != wantClosed {
					t.Fatalf("seed %d: serverEnded(%d) = %v %v", seed, id, open, closed)
				}
			case 4:
				open, completed := s.reset(id)
				st := m[id]
				if open != (st != nil) || (st != nil && completed != st.server) {
					t.Fatalf("seed %d: reset(%d) = %v %v", seed, id, open, completed)
				}
				delete(m, id)
			case 5:
				last := uint32(rng.IntN(int(next) + 1))
				s.dropAbove(last)
				for k := range m {
					if k%2 == 1 && k > last {
						delete(m, k)
					}
				}
			}
			var want []uint32
			clients := uint32(0)
			for k := range m {
				want = append(want, k)
				if k%2 == 1 {
					clients++
				}
			}
			slices.Sort(want)
			if got := s.snapshot(); !slices.Equal(got, want) || s.client.Load() != clients {
				t.Fatalf("seed %d: set %v (%d client), model %v (%d)", seed, got, s.client.Load(), want, clients)
			}
		}
	}
}
