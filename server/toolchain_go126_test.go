//go:build !go1.27

package server_test

// handlersSeeUserServer: x/net puts the throwaway (BaseConfig) under
// http.ServerContextKey.
const handlersSeeUserServer = false
