package lifecycle

import (
	"github.com/benbjohnson/clock"
	"go.uber.org/zap"
)

// An Option configures the cross-cutting parts of supervisors: logging,
// hooks, time.
type Option interface{ apply(*options) }

type options struct {
	log     *zap.Logger
	clock   clock.Clock
	metrics *metricHooks
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithLogger sends the supervisor's logs to l: one Info line per drained
// connection, Debug for routine events, Warn for peer protocol violations.
// A nil logger, the default, logs nothing.
func WithLogger(l *zap.Logger) Option {
	return optionFunc(func(o *options) { o.log = l })
}

// withClock replaces the clock; tests that cannot run in a synctest bubble
// use it. The seam stays unexported: everything else uses real time, which
// synctest makes fake.
func withClock(c clock.Clock) Option {
	return optionFunc(func(o *options) { o.clock = c })
}

// nopLogger is the logger of supervisors given none: shared, it logs nothing.
var nopLogger = zap.NewNop()

// buildOptions fills o, which must be zero, from opts. o is the
// supervisor's own (heap) copy: options built on the stack would escape
// through the Option interface (48 B a connection).
func buildOptions(o *options, opts []Option) {
	for _, opt := range opts {
		if opt != nil {
			opt.apply(o)
		}
	}
	if o.log == nil {
		o.log = nopLogger
	}
	if o.clock == nil {
		o.clock = clock.New()
	}
}

// Metrics receives the life of every supervised connection. Implementations
// must be safe for concurrent use and quick: they run on the connection's
// goroutines. A nil Metrics, the default, costs nothing. A Metrics that is
// also a [LiveMetrics] hears of streams and drains as they happen.
type Metrics interface {
	// ConnOpened is called when a connection comes under supervision.
	ConnOpened()
	// ConnClosed is called once when it is closed, with its final report:
	// why it ended, how long each drain phase took, the last PING round
	// trip, the streams completed and cut, whether the ping timeout or the
	// grace deadline fired. It is called before the connection leaves
	// server.Server's snapshot and reports.
	ConnClosed(r *Report)
}

// WithMetrics sends connection events to m (see Metrics and LiveMetrics).
func WithMetrics(m Metrics) Option {
	var h *metricHooks // made once, shared by the supervisors of the option
	if m != nil {
		h = &metricHooks{conn: m}
		h.live, _ = m.(LiveMetrics)
	}
	return optionFunc(func(o *options) { o.metrics = h })
}

// metricHooks is what a supervisor calls: one pointer per connection, nil
// without metrics.
type metricHooks struct {
	conn Metrics
	live LiveMetrics // nil unless conn is one
}
