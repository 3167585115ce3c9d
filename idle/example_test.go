package idle_test

import (
	"fmt"
	"time"

	"github.com/h2lifecycle/h2lifecycle/idle"
)

func ExamplePolicy_ParseYAML() {
	var p idle.Policy
	err := p.ParseYAML([]byte(`
idle_timeout: 2m
max_connection_age: 30m
max_connection_age_grace: 1m
keepalive_interval: 1m
`))
	fmt.Println(p.IdleTimeout, p.MaxConnectionAge, p.MaxConnectionAgeGrace, p.KeepaliveInterval, err)
	// Output: 2m0s 30m0s 1m0s 1m0s <nil>
}

func ExamplePolicy_Validate() {
	p := idle.Policy{MaxConnectionAgeGrace: -5 * time.Second}
	fmt.Println(p.Validate())
	// Output: idle: max_connection_age_grace must be >= 0, got -5s
}

func ExamplePolicy_FromEnv() {
	env := map[string]string{"H2_IDLE_TIMEOUT": "90s", "H2_MAX_STREAMS_PER_CONNECTION": "1000"}
	var p idle.Policy
	err := p.FromEnv("H2_", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	fmt.Println(p.IdleTimeout, p.MaxStreamsPerConnection, err)
	// Output: 1m30s 1000 <nil>
}
