package idle_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
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

func ExamplePolicy_LoadFile() {
	dir, err := os.MkdirTemp("", "policy")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(file, []byte("idle_timeout: 2m\nmax_connection_age: 30m\n"), 0o600); err != nil {
		log.Fatal(err)
	}
	var p idle.Policy
	if err := p.LoadFile(file); err != nil {
		log.Fatal(err) // unknown keys and bad values name the field
	}
	fmt.Println(p.IdleTimeout, p.MaxConnectionAge)

	// A typo is an error, and p is left as it was.
	if err := os.WriteFile(file, []byte("idle_timeout: 5m\nmax_conection_age: 1h\n"), 0o600); err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.LoadFile(file) != nil, p.IdleTimeout)
	// Output:
	// 2m0s 30m0s
	// true 2m0s
}
