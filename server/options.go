package server

import (
	"go.uber.org/zap"

	"github.com/h2lifecycle/h2lifecycle/lifecycle"
)

// An Option configures the cross-cutting parts of a Server.
type Option interface{ apply(*options) }

type options struct {
	log     *zap.Logger
	metrics lifecycle.Metrics
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithLogger sends logs to l: one Info line per drained connection, Debug for
// routine events, Warn for protocol violations. Nil, the default, logs
// nothing.
func WithLogger(l *zap.Logger) Option {
	return optionFunc(func(o *options) { o.log = l })
}

// WithMetrics sends every supervised connection's opening and final report
// to m (see lifecycle.Metrics), and, if m is a lifecycle.LiveMetrics, its
// changes of state and every stream's start and end as they happen; nil,
// the default, costs nothing.
func WithMetrics(m lifecycle.Metrics) Option {
	return optionFunc(func(o *options) { o.metrics = m })
}

func (o *options) lifecycle() []lifecycle.Option {
	return []lifecycle.Option{lifecycle.WithLogger(o.log), lifecycle.WithMetrics(o.metrics)}
}
