package server

import (
	"context"
	"errors"
	"reflect"
	"time"
)

// shutdownHTTP is http.Server.Shutdown(ctx) (listeners closed, idle
// HTTP/1.1 connections closed, the rest waited for), returning when the
// last connection closes rather than at Shutdown's next poll.
//
// net/http tracks each supervised connection as an active one until it
// ends, so its Shutdown waits for them, but it notices their end late: it
// polls at intervals that double up to 500 ms, and a drain of many
// connections ends between two polls far apart. The ConnState hook counts
// net/http's connections (netConns). When no connection is left, the
// Shutdown call gets its ctx cancelled: it still waits for Serve's accept
// loops to return and then checks once whether every connection is idle or
// gone, its own condition, and answers as it would have at its next poll.
// Only a connection accepted while the listeners closed (not yet in the
// count when it read zero) makes that check fail; then every connection is
// in the count, and the wait goes on here: net/http's idle connections are
// closed at the same growing intervals (SetKeepAlivesEnabled(false) closes
// them as Shutdown's polls do) until the count is zero. Shutdown would have
// reported an error closing a listener in that case; it is lost.
//
// The count is used only while the hook Wrap installed is still hs's and
// every close it saw followed its StateNew (Wrap before Serve); otherwise
// this is hs.Shutdown(ctx) as it is.
func (s *Server) shutdownHTTP(ctx context.Context) error {
	if s.countOff.Load() || reflect.ValueOf(s.hs.ConnState).Pointer() != s.hookFn {
		return s.hs.Shutdown(ctx)
	}
	inner, cancel := context.WithCancel(ctx)
	defer cancel()
	answer := make(chan error, 1)
	go func() { answer <- s.hs.Shutdown(inner) }()
	select {
	case err := <-answer:
		return err
	case <-ctx.Done():
		return <-answer // ctx.Err(), once net/http has let go
	case <-s.connsQuiet():
	}
	if s.countOff.Load() {
		return <-answer // the count broke while we waited
	}
	cancel()
	err := <-answer
	if !errors.Is(err, context.Canceled) || ctx.Err() != nil {
		return err // quiescent at its check (nil or a listener's error), or ctx ended
	}
	for poll := time.Millisecond; ; poll = min(2*poll, 500*time.Millisecond) {
		s.hs.SetKeepAlivesEnabled(false) // closes idle connections, as Shutdown's polls do
		t := time.NewTimer(poll)
		select {
		case <-s.connsQuiet():
			t.Stop()
			if s.countOff.Load() {
				return s.hs.Shutdown(ctx) // cannot happen with Wrap before Serve; runs the hooks again
			}
			return nil
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// connsQuiet returns a channel closed once the hook has seen every
// connection net/http told it of end (now, if none is open).
func (s *Server) connsQuiet() <-chan struct{} {
	s.quietMu.Lock()
	defer s.quietMu.Unlock()
	if s.quiet == nil {
		s.quiet = make(chan struct{})
	}
	ch := s.quiet
	s.quietWant.Store(true)
	if s.netConns.Load() <= 0 {
		close(ch)
		s.quiet = nil
	}
	return ch
}

// netConnGone counts a connection's StateClosed or StateHijacked, and wakes
// whoever waits for the last one.
func (s *Server) netConnGone() {
	n := s.netConns.Add(-1)
	if n < 0 {
		s.countOff.Store(true)
	}
	if n > 0 || !s.quietWant.Load() {
		return
	}
	s.quietMu.Lock()
	if s.quiet != nil && s.netConns.Load() <= 0 {
		close(s.quiet)
		s.quiet = nil
	}
	s.quietMu.Unlock()
}
