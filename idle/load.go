package idle

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ParseJSON reads a policy from a JSON object whose keys are the snake_case
// field names (idle_timeout, max_connection_age, ...). Durations are Go
// duration strings ("30s"). Unknown keys are errors, and so is anything
// after the object; keys not given keep p's values. The result is
// validated; on any error p is left as it was.
func (p *Policy) ParseJSON(data []byte) error {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("idle: policy JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("idle: policy JSON: content after the object (offset %d)", dec.InputOffset())
	}
	return apply(p, raw, func(f field, v json.RawMessage) error {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return f.set(s) // a JSON string: "30s", or "true" and "3" leniently
		}
		if f.dur != nil {
			return f.invalid(string(v), wantDuration)
		}
		return f.set(string(v)) // a JSON number or boolean is its own text
	})
}

// ParseYAML reads a policy from a YAML mapping, with the keys and value
// forms of ParseJSON. On any error p is left as it was.
func (p *Policy) ParseYAML(data []byte) error {
	var raw map[string]yaml.Node
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("idle: policy YAML: %w", err)
	}
	return apply(p, raw, func(f field, v yaml.Node) error {
		if v.Kind != yaml.ScalarNode {
			return f.invalid("a YAML "+kindName(v.Kind), "a single value")
		}
		return f.set(v.Value)
	})
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "sequence"
	}
	return "node"
}

// apply sets the fields named by raw's keys, in a stable order, on a copy
// of p, and stores it in p if every value is valid.
func apply[V any](dst *Policy, raw map[string]V, set func(field, V) error) error {
	q := *dst
	p := &q
	byName := map[string]field{}
	for _, f := range p.fields() {
		byName[f.name] = f
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		f, ok := byName[k]
		if !ok {
			return fmt.Errorf("idle: unknown setting %q (known: %s)", k, strings.Join(p.names(), ", "))
		}
		if err := set(f, raw[k]); err != nil {
			return err
		}
	}
	if err := p.Validate(); err != nil {
		return err
	}
	*dst = q
	return nil
}

func (p *Policy) names() []string {
	var names []string
	for _, f := range p.fields() {
		names = append(names, f.name)
	}
	return names
}

// LoadFile reads a policy file: JSON for .json, YAML for .yaml and .yml.
func (p *Policy) LoadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return p.wrapPath(path, p.ParseJSON(data))
	case ".yaml", ".yml":
		return p.wrapPath(path, p.ParseYAML(data))
	}
	return fmt.Errorf("idle: policy file %s: want a .json, .yaml or .yml file", path)
}

func (p *Policy) wrapPath(path string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", path, err)
}

// FromEnv sets the fields that have an environment variable named prefix +
// the field's name in upper case (with prefix "H2_": H2_IDLE_TIMEOUT,
// H2_MAX_CONNECTION_AGE, ...). lookup is os.LookupEnv, or a stand-in. The
// result is validated; on any error p is left as it was.
func (p *Policy) FromEnv(prefix string, lookup func(string) (string, bool)) error {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	q := *p
	for _, f := range q.fields() {
		name := prefix + strings.ToUpper(f.name)
		if v, ok := lookup(name); ok {
			if err := f.set(v); err != nil {
				err.(*SettingError).Source = name
				return err
			}
		}
	}
	if err := q.Validate(); err != nil {
		return err
	}
	*p = q
	return nil
}

// RegisterFlags defines a flag for each field on fs, named prefix + the
// field's name with dashes (-idle-timeout, -max-connection-age, ...),
// whose default is p's current value. Call Validate after fs.Parse.
func (p *Policy) RegisterFlags(fs *flag.FlagSet, prefix string) {
	for _, f := range p.fields() {
		fs.Var(flagValue{f}, prefix+strings.ReplaceAll(f.name, "_", "-"), f.doc)
	}
}

type flagValue struct{ f field }

func (v flagValue) String() string {
	if v.f.dur == nil && v.f.num == nil && v.f.flag == nil {
		return "" // the zero flagValue flag.PrintDefaults makes
	}
	return v.f.String()
}

func (v flagValue) Set(s string) error { return v.f.set(s) }

// IsBoolFlag lets boolean settings be given as -flag, without a value.
func (v flagValue) IsBoolFlag() bool { return v.f.flag != nil }
