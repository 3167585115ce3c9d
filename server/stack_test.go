package server

import (
	"testing"
	"unsafe"
)

// TestPresizeStackMakesRoom: after presizeStack, on a fresh goroutine, a
// frame of nearly its size fits without the stack growing, and the room
// costs no allocation (an array the compiler moved to the heap would make
// none). A stack that grew has moved, so the address of a local changes.
func TestPresizeStackMakesRoom(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { presizeStack(0) }); n != 0 {
		t.Fatalf("presizeStack allocates (%v per call): its room is on the heap, not the stack", n)
	}
	for _, presize := range []bool{false, true} {
		moved := make(chan [2]bool)
		go func() {
			var x byte
			at := func() uintptr { return uintptr(unsafe.Pointer(&x)) }
			a := at()
			if presize {
				presizeStack(0)
			}
			b := at()
			frame1900(0)
			moved <- [2]bool{a != b, b != at()}
		}()
		m := <-moved
		t.Logf("presizeStack %v: it moved the stack %v, the 1,900-byte frame after it %v", presize, m[0], m[1])
		if presize && m[1] {
			t.Error("a 1,900-byte frame right after presizeStack grew the stack: presizeStack made no room")
		}
	}
}

//go:noinline
func frame1900(i int) byte {
	var b [1900]byte
	b[i] = 1
	return b[(i+3)%len(b)]
}
