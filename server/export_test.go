package server

import (
	"context"
	"os"
)

// ShutdownOn is ShutdownOnSignal with the signals coming from sigs, for
// tests.
func (s *Server) ShutdownOn(ctx context.Context, plan ShutdownPlan, sigs <-chan os.Signal) (ShutdownReport, error) {
	return s.shutdownOn(ctx, plan, sigs)
}
