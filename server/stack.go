package server

// presizeStack makes room on the connection's goroutine stack before the
// connection's work begins. That stack grows anyway (stock's does too, in
// the HTTP/2 server's serve loop, to 8 KB); a growth copies the stack and
// adjusts every frame on it, one table lookup per frame, so where it grows
// decides what it costs. Left alone, it grew in lifecycle.New's allocations
// or deep in the serve loop, a dozen frames up; growing it here, a few
// frames above net/http's conn.serve, costs a third of that: 15,000
// instructions less per connection on Go 1.26, 8,500 on Go 1.27
// (BENCHMARKS.md, Connection churn). 2 KB, not more: a stack that must grow
// for it reaches 4 KB, less than the serve loop needs, so no connection
// ends up with a bigger stack than stock's (a 6 KB frame, tried once, took
// idle connections' stacks to 16 KB).
//
//go:noinline
func presizeStack(i int) byte {
	var room [2 << 10]byte
	room[i] = 1
	return room[(i+7)%len(room)]
}
