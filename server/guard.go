package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"

	"go.uber.org/zap"
)

// Every setup in which h2lifecycle would supervise nothing is an error of
// Wrap, or, when it can only show later (http2.ConfigureServer called after
// Wrap), an error logged once and a count: never a server that quietly
// serves HTTP/2 without supervision.

// ErrNotWrapped is returned by the methods of a Server that Wrap did not
// make (the zero value, or nil).
var ErrNotWrapped = errors.New("server: this *server.Server was not made by server.Wrap: use the Server Wrap returns")

// ErrH2CHandler is Wrap's error when the handler is h2c.NewHandler's.
var ErrH2CHandler = errors.New("server: the handler is h2c.NewHandler's (golang.org/x/net/http2/h2c): it serves h2c itself, where h2lifecycle cannot supervise it. " +
	"Remove h2c.NewHandler (use the handler it wraps) and enable h2c on the http.Server instead: " +
	"var p http.Protocols; p.SetHTTP1(true); p.SetUnencryptedHTTP2(true); srv.Protocols = &p " +
	"(srv.Protocols.SetUnencryptedHTTP2(true) when srv.Protocols is already set)")

// h2cPackage is the import path of x/net's h2c handler.
const h2cPackage = "golang.org/x/net/http2/h2c"

// isH2CHandler reports whether h is h2c.NewHandler's handler (a value or a
// pointer of a type of package h2c).
func isH2CHandler(h http.Handler) bool {
	if h == nil {
		return false
	}
	t := reflect.TypeOf(h)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.PkgPath() == h2cPackage
}

// configuredErr says who put the HTTP/2 server that is already in
// hs.TLSNextProto["h2"] there, and what to do about it.
func configuredErr(fn func(*http.Server, *tls.Conn, http.Handler)) error {
	name := funcName(fn)
	switch {
	case strings.Contains(name, "h2lifecycle/server."):
		return fmt.Errorf("%w: server.Wrap was already called on this http.Server; wrap it once and share the *server.Server", ErrHTTP2Configured)
	case strings.HasPrefix(name, "golang.org/x/net/http2."):
		return fmt.Errorf("%w: http2.ConfigureServer was called on it. Remove that call (h2lifecycle serves HTTP/2 with the same server) "+
			"and move the http2.Server settings into http.Server.HTTP2 (an *http.HTTP2Config: MaxConcurrentStreams, MaxReadFrameSize, "+
			"SendPingTimeout for ReadIdleTimeout, PingTimeout, WriteByteTimeout, ...); http2.Server.IdleTimeout becomes http.Server.IdleTimeout", ErrHTTP2Configured)
	case strings.HasPrefix(name, "net/http."):
		return fmt.Errorf("%w by net/http itself: the http.Server has already started serving (Serve, ServeTLS, ListenAndServe or ListenAndServeTLS configure "+
			"its own HTTP/2 server as they start), or, on Go 1.27, http2.ConfigureServer was called on it. Call server.Wrap before the server serves, "+
			"and instead of http2.ConfigureServer set http.Server.HTTP2", ErrHTTP2Configured)
	}
	return fmt.Errorf("%w (by %s): remove the other HTTP/2 server, or supervise nothing", ErrHTTP2Configured, name)
}

// funcName is the name of fn's code, "" if unknown.
func funcName(fn any) string {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func || v.IsNil() {
		return ""
	}
	if f := runtime.FuncForPC(v.Pointer()); f != nil {
		return f.Name()
	}
	return ""
}

// disabledErr reports a server on which net/http would not serve HTTP/2 at
// all, so that there is nothing to supervise.
func disabledErr(hs *http.Server) error {
	if godebug("http2server") == "0" {
		// net/http serves no HTTP/2 then, whatever hs.Protocols says,
		// unless an "h2" entry was put in TLSNextProto by hand: which
		// is what Wrap would do.
		return fmt.Errorf("%w: GODEBUG=http2server=0 (in the environment, or a //go:debug or go.mod godebug line) turns the HTTP/2 server off. "+
			"To serve HTTP/2, remove that setting; to keep it off, do not Wrap the server", ErrHTTP2Disabled)
	}
	if p := hs.Protocols; p != nil {
		if !p.HTTP2() && !p.UnencryptedHTTP2() {
			return fmt.Errorf("%w: http.Server.Protocols enables neither HTTP2 nor UnencryptedHTTP2", ErrHTTP2Disabled)
		}
		return nil // Protocols wins over TLSNextProto, as in net/http
	}
	if hs.TLSNextProto != nil {
		// net/http's documented way to turn HTTP/2 off: a non-nil map
		// without "h2".
		return fmt.Errorf("%w: http.Server.TLSNextProto is a non-nil map without \"h2\", net/http's way to turn HTTP/2 off. "+
			"To serve HTTP/2, leave TLSNextProto nil (or set http.Server.Protocols); to keep it off, do not Wrap the server", ErrHTTP2Disabled)
	}
	return nil
}

// godebug returns the value of the GODEBUG setting name, as net/http reads
// it: the GODEBUG environment variable (its last entry for name) over the
// binary's default (//go:debug lines and go.mod's godebug block, recorded
// in the build info as DefaultGODEBUG). It is read when Wrap is called;
// "" if unset.
func godebug(name string) string {
	if v, ok := lastSetting(os.Getenv("GODEBUG"), name); ok {
		return v
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "DefaultGODEBUG" {
				v, _ := lastSetting(s.Value, name)
				return v
			}
		}
	}
	return ""
}

// lastSetting returns the value of the last name=value entry in the
// comma-separated list (nothing trimmed, as the runtime parses it).
func lastSetting(list, name string) (value string, ok bool) {
	for kv := range strings.SplitSeq(list, ",") {
		if k, v, found := strings.Cut(kv, "="); found && k == name {
			value, ok = v, true
		}
	}
	return value, ok
}

// watchConns puts a ConnState hook in front of the user's (which it calls
// right after, unchanged): at every new connection it checks that HTTP/2 still
// comes to h2lifecycle, and once another HTTP/2 server took it over, counts
// the connections that server served when they close (before the user's
// hook sees StateClosed). On a correctly set up server the hook costs an
// atomic load per state change.
func (s *Server) watchConns(hs *http.Server) {
	user := hs.ConnState
	hs.ConnState = func(nc net.Conn, st http.ConnState) {
		// Ours first: a user hook that sees StateClosed sees the count.
		defer func() {
			if user != nil {
				user(nc, st)
			}
		}()
		switch st {
		case http.StateNew:
			s.netConns.Add(1)
			s.checkBypass(hs)
		case http.StateActive, http.StateIdle:
			if s.bypass.Load() {
				s.noteForeign(nc)
			}
		case http.StateClosed:
			s.netConnGone()
			if s.bypass.Load() {
				s.closedBypassed(nc)
			}
		case http.StateHijacked:
			s.netConnGone()
			if s.bypass.Load() {
				s.foreign.Delete(nc)
			}
		}
	}
	s.hookFn = reflect.ValueOf(hs.ConnState).Pointer()
}

// closedBypassed counts nc, closing on a server whose HTTP/2 another server
// took over, if that server served it: a TLS connection that negotiated h2,
// or an h2c one noteForeign saw.
func (s *Server) closedBypassed(nc net.Conn) {
	if tc, ok := nc.(*tls.Conn); ok {
		if tc.ConnectionState().NegotiatedProtocol != "h2" {
			return
		}
	} else if _, ok := s.foreign.LoadAndDelete(nc); !ok {
		return
	}
	s.unsupervised.Add(1)
	if s.umetrics != nil {
		s.umetrics.ConnUnsupervised()
	}
}

// noteForeign remembers an h2c connection that another HTTP/2 server
// serves, to count it when it closes. Nothing in a connection's states
// tells h2c from HTTP/1.1 (net/http skips the hooks when it hands an h2c
// connection over), but who reports them does: an HTTP/1.1 connection's
// states come from net/http's own connection, a supervised one's from
// its HTTP/2 server's throwaway (h2server.connState), and any other caller is an HTTP/2 server
// serving the connection without supervision (x/net's serverConn on Go
// 1.26; net/http's internal one, through its ConnState adapter, on Go
// 1.27). Only looked at once a bypass was seen; TLS connections are
// counted by their negotiated protocol instead.
//
//go:noinline
func (s *Server) noteForeign(nc net.Conn) {
	if _, ok := nc.(*tls.Conn); ok {
		return
	}
	var pcs [1]uintptr
	// 0 is Callers, 1 noteForeign, 2 watchConns's hook, 3 its caller.
	if runtime.Callers(3, pcs[:]) == 0 {
		return
	}
	f, _ := runtime.CallersFrames(pcs[:]).Next()
	switch f.Function {
	case "net/http.(*conn).setState", handleConnState:
		return
	}
	s.foreign.LoadOrStore(nc, struct{}{})
}

// handleConnState is the name of the throwaway's ConnState hook, which
// passes the supervised connections' states on to hs.ConnState.
var handleConnState = funcName((*h2server).connState)

// bypassed reports whether another HTTP/2 server took hs.TLSNextProto["h2"]
// over after Wrap (http2.ConfigureServer, on any Go version).
func (s *Server) bypassed(hs *http.Server) bool {
	fn, ok := hs.TLSNextProto["h2"]
	return !ok || reflect.ValueOf(fn).Pointer() != s.h2fn
}

// checkBypass logs, once, that HTTP/2 connections bypass supervision.
func (s *Server) checkBypass(hs *http.Server) {
	if !s.bypassed(hs) {
		return
	}
	s.bypass.Store(true)
	s.bypassOnce.Do(func() {
		msg := "h2lifecycle: HTTP/2 connections are not supervised: http.Server.TLSNextProto[\"h2\"] was replaced after server.Wrap " +
			"(http2.ConfigureServer called after Wrap?). They end with the stock server's single GOAWAY. " +
			"Remove the http2.ConfigureServer call and set http.Server.HTTP2 instead; Server.UnsupervisedHTTP2 counts them"
		if hs.ErrorLog != nil {
			hs.ErrorLog.Print(msg)
		}
		s.log.Error(msg, zap.String("tls_next_proto_h2", funcName(hs.TLSNextProto["h2"])))
	})
}

// UnsupervisedHTTP2 is the number of HTTP/2 connections (TLS and h2c)
// served without supervision because another HTTP/2 server replaced
// h2lifecycle's after Wrap (http2.ConfigureServer called after Wrap),
// counted when they close. It is zero on a correctly set up server.
func (s *Server) UnsupervisedHTTP2() uint64 {
	if s == nil {
		return 0
	}
	return s.unsupervised.Load()
}

// UnsupervisedMetrics is an optional method of the lifecycle.Metrics given
// to WithMetrics: when it has it, ConnUnsupervised is called for every
// connection UnsupervisedHTTP2 counts.
type UnsupervisedMetrics interface {
	ConnUnsupervised()
}

// wrapped reports whether Wrap made s.
func (s *Server) wrapped() bool { return s != nil && s.hs != nil }
