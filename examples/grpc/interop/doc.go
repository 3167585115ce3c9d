// Package interop holds only tests: grpc-go clients against gRPC served by
// h2lifecycle (examples/grpc), and the two field incidents that need a gRPC
// client (seeds 001 and 003). They live in the examples/grpc module so that
// the core module never requires google.golang.org/grpc.
package interop
