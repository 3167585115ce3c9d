// Package echo is a small gRPC service written by hand, without protoc: its
// messages are protobuf's well-known wrappers (wrapperspb.StringValue,
// Int64Value) and its service description and stubs are the few lines
// protoc-gen-go-grpc would have generated. The gRPC example and the interop
// tests use it to drive real grpc-go clients through h2lifecycle.
//
// Service h2lifecycle.examples.Echo:
//
//	rpc Unary(StringValue) returns (StringValue)        // echo; "fail:..." fails at once with NOT_FOUND
//	rpc Count(Int64Value) returns (stream StringValue)  // n messages, Interval apart
//	rpc Chat(stream StringValue) returns (stream StringValue) // echo each message
//
// Count's messages carry their send time ("i@unixnano"), so that a client can
// measure how long each took to arrive ([Latency]).
package echo

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// ServiceName is the service's full name.
const ServiceName = "h2lifecycle.examples.Echo"

// Full method names.
const (
	UnaryMethod = "/" + ServiceName + "/Unary"
	CountMethod = "/" + ServiceName + "/Count"
	ChatMethod  = "/" + ServiceName + "/Chat"
)

// FailPrefix makes Unary fail at once with codes.NotFound: the response is a
// gRPC "trailers-only" response, a single header block with grpc-status,
// the shape that breaks behind a flushing reverse proxy (golang/go#56317).
const FailPrefix = "fail:"

// Server implements the service. The zero value works.
type Server struct {
	// Interval spaces Count's messages. Zero sends them back to back.
	Interval time.Duration

	// TrailerPad, if positive, adds a binary trailer ("x-pad-bin") of this
	// many bytes to every successful Unary: large trailers make the HTTP/2
	// server write the stream's last frame straight through to the socket.
	TrailerPad int
}

// Register registers s on gs.
func Register(gs grpc.ServiceRegistrar, s *Server) {
	if s == nil {
		s = &Server{}
	}
	gs.RegisterService(&ServiceDesc, s)
}

// ServiceDesc describes the service to grpc-go.
var ServiceDesc = grpc.ServiceDesc{
	ServiceName: ServiceName,
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Unary",
		Handler:    unaryHandler,
	}},
	Streams: []grpc.StreamDesc{
		{StreamName: "Count", Handler: countHandler, ServerStreams: true},
		{StreamName: "Chat", Handler: chatHandler, ServerStreams: true, ClientStreams: true},
	},
}

func unaryHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(wrapperspb.StringValue)
	if err := dec(in); err != nil {
		return nil, err
	}
	s := srv.(*Server)
	if interceptor == nil {
		return s.unary(ctx, in)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: UnaryMethod}
	return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
		return s.unary(ctx, req.(*wrapperspb.StringValue))
	})
}

func (s *Server) unary(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	if strings.HasPrefix(in.GetValue(), FailPrefix) {
		return nil, status.Error(codes.NotFound, "echo: no such thing: "+in.GetValue())
	}
	if s.TrailerPad > 0 {
		pad := make([]byte, s.TrailerPad)
		for i := range pad {
			pad[i] = byte(i*131 + i>>8) // poorly compressible
		}
		grpc.SetTrailer(ctx, metadata.Pairs("x-pad-bin", string(pad)))
	}
	return wrapperspb.String(in.GetValue()), nil
}

func countHandler(srv any, stream grpc.ServerStream) error {
	in := new(wrapperspb.Int64Value)
	if err := stream.RecvMsg(in); err != nil {
		return err
	}
	s := srv.(*Server)
	for i := range in.GetValue() {
		if i > 0 && s.Interval > 0 {
			t := time.NewTimer(s.Interval)
			select {
			case <-t.C:
			case <-stream.Context().Done():
				t.Stop()
				return stream.Context().Err()
			}
		}
		msg := wrapperspb.String(fmt.Sprintf("%d@%d", i, time.Now().UnixNano()))
		if err := stream.SendMsg(msg); err != nil {
			return err
		}
	}
	return nil
}

func chatHandler(_ any, stream grpc.ServerStream) error {
	for {
		in := new(wrapperspb.StringValue)
		if err := stream.RecvMsg(in); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if err := stream.SendMsg(in); err != nil {
			return err
		}
	}
}

// Latency returns how long ago a Count message was sent, by its send time.
// Client and server must share a clock (the same machine).
func Latency(msg *wrapperspb.StringValue, now time.Time) (time.Duration, error) {
	_, sent, ok := strings.Cut(msg.GetValue(), "@")
	if !ok {
		return 0, fmt.Errorf("echo: %q is not a Count message", msg.GetValue())
	}
	ns, err := strconv.ParseInt(sent, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("echo: %q is not a Count message", msg.GetValue())
	}
	return now.Sub(time.Unix(0, ns)), nil
}

// Client calls the service.
type Client struct {
	cc grpc.ClientConnInterface
}

// NewClient returns a client on cc.
func NewClient(cc grpc.ClientConnInterface) *Client { return &Client{cc: cc} }

// Unary calls Unary.
func (c *Client) Unary(ctx context.Context, in string, opts ...grpc.CallOption) (string, error) {
	out := new(wrapperspb.StringValue)
	if err := c.cc.Invoke(ctx, UnaryMethod, wrapperspb.String(in), out, opts...); err != nil {
		return "", err
	}
	return out.GetValue(), nil
}

// Count calls Count: the server sends n messages.
func (c *Client) Count(ctx context.Context, n int64, opts ...grpc.CallOption) (grpc.ServerStreamingClient[wrapperspb.StringValue], error) {
	stream, err := c.cc.NewStream(ctx, &ServiceDesc.Streams[0], CountMethod, opts...)
	if err != nil {
		return nil, err
	}
	x := &grpc.GenericClientStream[wrapperspb.Int64Value, wrapperspb.StringValue]{ClientStream: stream}
	if err := x.SendMsg(wrapperspb.Int64(n)); err != nil {
		return nil, err
	}
	if err := x.CloseSend(); err != nil {
		return nil, err
	}
	return x, nil
}

// Chat opens a Chat stream.
func (c *Client) Chat(ctx context.Context, opts ...grpc.CallOption) (grpc.BidiStreamingClient[wrapperspb.StringValue, wrapperspb.StringValue], error) {
	stream, err := c.cc.NewStream(ctx, &ServiceDesc.Streams[1], ChatMethod, opts...)
	if err != nil {
		return nil, err
	}
	return &grpc.GenericClientStream[wrapperspb.StringValue, wrapperspb.StringValue]{ClientStream: stream}, nil
}
