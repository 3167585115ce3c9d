package echo

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Stats counts the RPCs of [CallLoop].
type Stats struct {
	RPCs, Failed int64
	Unary        int64 // successful echoes
	Errors       int64 // "fail:" calls that failed as they must, with NOT_FOUND
	Streams      int64 // Count and Chat streams completed
	Messages     int64 // stream messages received
	mu           sync.Mutex
	Examples     map[string]int // failed RPCs by code and message
}

func (s *Stats) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("%d RPCs: %d unary ok, %d expected NOT_FOUND, %d streams (%d messages), %d failed %v",
		s.RPCs, s.Unary, s.Errors, s.Streams, s.Messages, s.Failed, s.Examples)
}

func (s *Stats) fail(err error) {
	atomic.AddInt64(&s.Failed, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Examples == nil {
		s.Examples = map[string]int{}
	}
	st := status.Convert(err)
	s.Examples[st.Code().String()+": "+st.Message()]++
}

// CallLoop runs workers goroutines that call c until ctx is done, and
// counts. An RPC cut by ctx's end is not counted.
func CallLoop(ctx context.Context, c *Client, workers int) *Stats {
	st := &Stats{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				callOnce(ctx, c, st, fmt.Sprintf("w%d-%d", w, i))
			}
		}()
	}
	wg.Wait()
	return st
}

// callOnce makes one RPC of each kind. Each RPC has its own deadline,
// detached from ctx, so that the end of the loop does not cut RPCs in
// flight: only RPCs started while ctx is live are made.
func callOnce(ctx context.Context, c *Client, st *Stats, id string) {
	rpc := func(f func(ctx context.Context) error) {
		if ctx.Err() != nil {
			return
		}
		atomic.AddInt64(&st.RPCs, 1)
		rctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := f(rctx); err != nil {
			st.fail(err)
		}
	}
	rpc(func(ctx context.Context) error {
		got, err := c.Unary(ctx, id)
		if err == nil && got != id {
			err = status.Errorf(codes.DataLoss, "echo %q came back as %q", id, got)
		}
		if err == nil {
			atomic.AddInt64(&st.Unary, 1)
		}
		return err
	})
	rpc(func(ctx context.Context) error {
		_, err := c.Unary(ctx, FailPrefix+id)
		if status.Code(err) == codes.NotFound {
			atomic.AddInt64(&st.Errors, 1)
			return nil
		}
		if err == nil {
			err = status.Error(codes.Unknown, "a fail: call succeeded")
		}
		return err
	})
	rpc(func(ctx context.Context) error {
		const n = 5
		stream, err := c.Count(ctx, n)
		if err != nil {
			return err
		}
		got := 0
		for {
			_, err := stream.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			got++
		}
		if got != n {
			return status.Errorf(codes.DataLoss, "Count(%d) gave %d messages", n, got)
		}
		atomic.AddInt64(&st.Messages, n)
		atomic.AddInt64(&st.Streams, 1)
		return nil
	})
	rpc(func(ctx context.Context) error {
		stream, err := c.Chat(ctx)
		if err != nil {
			return err
		}
		for i := range 3 {
			msg := fmt.Sprintf("%s/%d", id, i)
			if err := stream.Send(wrapperspb.String(msg)); err != nil {
				return err
			}
			got, err := stream.Recv()
			if err != nil {
				return err
			}
			if got.GetValue() != msg {
				return status.Errorf(codes.DataLoss, "chat %q came back as %q", msg, got.GetValue())
			}
		}
		if err := stream.CloseSend(); err != nil {
			return err
		}
		if _, err := stream.Recv(); err != io.EOF {
			return fmt.Errorf("chat: after CloseSend: %v", err)
		}
		atomic.AddInt64(&st.Messages, 3)
		atomic.AddInt64(&st.Streams, 1)
		return nil
	})
}
