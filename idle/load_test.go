package idle

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var full = Policy{
	IdleTimeout:             30 * time.Second,
	MaxConnectionAge:        10 * time.Minute,
	MaxConnectionAgeGrace:   time.Minute,
	MaxStreamsPerConnection: 1000,
	HeaderTimeout:           5 * time.Second,
	MaxStreamDuration:       2 * time.Minute,
	StreamIdleTimeout:       30 * time.Second,
	KeepaliveInterval:       time.Minute,
	KeepaliveTimeout:        10 * time.Second,
	PingMinInterval:         5 * time.Second,
	PingPermitWithoutStream: true,
	PingMaxStrikes:          3,
}

const fullJSON = `{
  "idle_timeout": "30s", "max_connection_age": "10m", "max_connection_age_grace": "1m",
  "max_streams_per_connection": 1000, "header_timeout": "5s", "max_stream_duration": "2m",
  "stream_idle_timeout": "30s", "keepalive_interval": "1m", "keepalive_timeout": "10s",
  "ping_min_interval": "5s", "ping_permit_without_stream": true, "ping_max_strikes": 3
}`

const fullYAML = `
idle_timeout: 30s
max_connection_age: 10m
max_connection_age_grace: 1m
max_streams_per_connection: 1000
header_timeout: 5s
max_stream_duration: 2m
stream_idle_timeout: 30s
keepalive_interval: 1m
keepalive_timeout: 10s
ping_min_interval: 5s
ping_permit_without_stream: true
ping_max_strikes: 3
`

func TestEveryFieldIsLoadable(t *testing.T) {
	if n := len(full.fields()); n != 12 {
		t.Fatalf("Policy has %d settings; update the tests' full policy", n)
	}
	if n := reflect.TypeFor[Policy]().NumField(); n != numFields {
		t.Fatalf("Policy has %d fields, numFields says %d: a field fields() does not list is neither loaded nor validated", n, numFields)
	}
	var j, y, e Policy
	if err := j.ParseJSON([]byte(fullJSON)); err != nil {
		t.Fatal(err)
	}
	if err := y.ParseYAML([]byte(fullYAML)); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, f := range full.fields() {
		env["H2_"+strings.ToUpper(f.name)] = f.String()
	}
	if err := e.FromEnv("H2_", func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	var fl Policy
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fl.RegisterFlags(fs, "h2-")
	var args []string
	for _, f := range full.fields() {
		args = append(args, "-h2-"+strings.ReplaceAll(f.name, "_", "-")+"="+f.String())
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]Policy{"JSON": j, "YAML": y, "env": e, "flags": fl} {
		if got != full {
			t.Errorf("%s: %+v\nwant %+v", name, got, full)
		}
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"p.json": fullJSON, "p.yaml": fullYAML, "p.yml": fullYAML} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(body), 0o600)
		var p Policy
		if err := p.LoadFile(path); err != nil || p != full {
			t.Errorf("%s: %v %+v", name, err, p)
		}
	}
	os.WriteFile(filepath.Join(dir, "p.toml"), []byte("x"), 0o600)
	var p Policy
	if err := p.LoadFile(filepath.Join(dir, "p.toml")); err == nil || !strings.Contains(err.Error(), ".json, .yaml or .yml") {
		t.Errorf("toml: %v", err)
	}
	if err := p.LoadFile(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("missing file: no error")
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("idle_timeout: -5s\n"), 0o600)
	if err := p.LoadFile(bad); err == nil || err.Error() != bad+": idle: idle_timeout must be >= 0, got -5s" {
		t.Errorf("bad.yaml: %v", err)
	}
}

// TestConfigErrors: every field's bad value is an error that names the field
// and the value, from each source.
func TestConfigErrors(t *testing.T) {
	for _, f := range full.fields() {
		var bad, want string
		switch {
		case f.dur != nil:
			bad, want = "-5s", f.name+" must be >= 0, got -5s"
		case f.num != nil:
			bad, want = "-1", f.name+" must be >= 0, got -1"
		default:
			bad, want = "maybe", f.name+` must be true or false, got "maybe"`
		}
		t.Run(f.name, func(t *testing.T) {
			var p Policy
			js := `{"` + f.name + `": ` + map[bool]string{true: `"` + bad + `"`, false: bad}[f.dur != nil || f.flag != nil] + `}`
			if err := p.ParseJSON([]byte(js)); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("JSON %s: %v, want %q", js, err, want)
			}
			if err := p.ParseYAML([]byte(f.name + ": " + bad)); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("YAML: %v, want %q", err, want)
			}
			lookup := func(k string) (string, bool) { return bad, k == "X_"+strings.ToUpper(f.name) }
			if err := p.FromEnv("X_", lookup); err == nil || !strings.Contains(err.Error(), f.name) || !strings.Contains(err.Error(), bad) {
				t.Errorf("env: %v", err)
			}
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			p.RegisterFlags(fs, "")
			err := fs.Parse([]string{"-" + strings.ReplaceAll(f.name, "_", "-") + "=" + bad})
			if err == nil {
				err = p.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), bad) {
				t.Errorf("flag: %v", err)
			}
		})
	}
}

func TestConfigErrorsOfForm(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"idle_timeout": 30}`, "idle_timeout must be a Go duration such as 30s or 1m30s, got 30"},
		{`{"idle_timeout": "30 seconds"}`, `idle_timeout must be a Go duration such as 30s or 1m30s, got "30 seconds"`},
		{`{"max_streams_per_connection": "many"}`, `max_streams_per_connection must be an integer, got "many"`},
		{`{"idle_timeot": "30s"}`, `unknown setting "idle_timeot" (known: idle_timeout, `},
		{`[1, 2]`, "idle: policy JSON"},
	} {
		var p Policy
		if err := p.ParseJSON([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.in, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"idle_timeout: [1, 2]", "idle_timeout must be a single value, got a YAML sequence"},
		{"keepalive:\n  interval: 1m", `unknown setting "keepalive"`},
		{"idle_timeout: 30s\nidle_timeout: 40s", "idle: policy YAML"},
	} {
		var p Policy
		if err := p.ParseYAML([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestKeysNotGivenKeepTheirValues(t *testing.T) {
	p := Policy{IdleTimeout: time.Minute, MaxStreamsPerConnection: 7}
	if err := p.ParseJSON([]byte(`{"max_connection_age": "1h"}`)); err != nil {
		t.Fatal(err)
	}
	if p.IdleTimeout != time.Minute || p.MaxStreamsPerConnection != 7 || p.MaxConnectionAge != time.Hour {
		t.Fatalf("%+v", p)
	}
}

// TestJSONTrailingContent: a policy document is one JSON object; anything
// after it is an error, not silently ignored.
func TestJSONTrailingContent(t *testing.T) {
	for _, doc := range []string{
		`{"idle_timeout": "1s"} {"idle_timeout": "2s"}`,
		`{"idle_timeout": "1s"}x`,
		`{"idle_timeout": "1s"}]`,
	} {
		var p Policy
		if err := p.ParseJSON([]byte(doc)); err == nil {
			t.Errorf("ParseJSON(%s) = nil, want an error for the content after the object (got %+v)", doc, p)
		}
	}
	var p Policy
	if err := p.ParseJSON([]byte("{\"idle_timeout\": \"1s\"}\n  \t")); err != nil || p.IdleTimeout != time.Second {
		t.Errorf("trailing white space: %v, %v", err, p.IdleTimeout)
	}
}

// TestFailedParseChangesNothing: a document, environment or file that fails
// leaves the Policy as it was, not half-modified.
func TestFailedParseChangesNothing(t *testing.T) {
	before := Policy{IdleTimeout: 5 * time.Second, MaxConnectionAge: time.Hour}
	for name, parse := range map[string]func(*Policy) error{
		"JSON": func(p *Policy) error {
			return p.ParseJSON([]byte(`{"idle_timeout": "1s", "max_connection_age": "bad"}`))
		},
		"JSON invalid": func(p *Policy) error {
			return p.ParseJSON([]byte(`{"idle_timeout": "1s", "max_streams_per_connection": -3}`))
		},
		"YAML": func(p *Policy) error {
			return p.ParseYAML([]byte("idle_timeout: 1s\nmax_connection_age: bad\n"))
		},
		"env": func(p *Policy) error {
			env := map[string]string{"H2_IDLE_TIMEOUT": "1s", "H2_MAX_CONNECTION_AGE": "bad"}
			return p.FromEnv("H2_", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		},
	} {
		p := before
		if err := parse(&p); err == nil {
			t.Errorf("%s: no error", name)
		}
		if p != before {
			t.Errorf("%s: a failed parse changed the policy to %+v", name, p)
		}
	}
}
