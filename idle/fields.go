package idle

import (
	"strconv"
	"time"
)

// field is one setting of a Policy as configuration files, environment
// variables and flags name it.
type field struct {
	name string // snake_case, as in files
	doc  string
	dur  *time.Duration
	num  *int
	flag *bool
}

// numFields is how many settings a Policy has.
const numFields = 12

// fields lists p's settings, pointing into p. An array, not a slice: it
// allocates nothing. (Supervisors validate a policy once per value, when
// they intern it, not per connection.)
func (p *Policy) fields() [numFields]field {
	return [numFields]field{
		{name: "idle_timeout", dur: &p.IdleTimeout, doc: "drain connections with no open stream for this long"},
		{name: "max_connection_age", dur: &p.MaxConnectionAge, doc: "drain connections this old (±10% jitter)"},
		{name: "max_connection_age_grace", dur: &p.MaxConnectionAgeGrace, doc: "grace deadline of a max_age drain"},
		{name: "max_streams_per_connection", num: &p.MaxStreamsPerConnection, doc: "drain connections after this many streams"},
		{name: "header_timeout", dur: &p.HeaderTimeout, doc: "time allowed for the preface, first SETTINGS and each header block"},
		{name: "max_stream_duration", dur: &p.MaxStreamDuration, doc: "reset streams older than this"},
		{name: "stream_idle_timeout", dur: &p.StreamIdleTimeout, doc: "reset streams with no body read or written for this long"},
		{name: "keepalive_interval", dur: &p.KeepaliveInterval, doc: "PING connections silent for this long"},
		{name: "keepalive_timeout", dur: &p.KeepaliveTimeout, doc: "close connections whose keepalive PING is not ACKed within this (0: 20s)"},
		{name: "ping_min_interval", dur: &p.PingMinInterval, doc: "minimum interval between client PINGs (0: no enforcement)"},
		{name: "ping_permit_without_stream", flag: &p.PingPermitWithoutStream, doc: "allow client PINGs on connections with no open stream"},
		{name: "ping_max_strikes", num: &p.PingMaxStrikes, doc: "client PINGs too close together that are forgiven (0: 2)"},
	}
}

// check validates the field's current value.
func (f field) check() error {
	switch {
	case f.dur != nil:
		return NonNegative("idle", f.name, *f.dur)
	case f.num != nil:
		return NonNegative("idle", f.name, *f.num)
	}
	return nil
}

// invalid is the SettingError of a value of the field that does not parse.
func (f field) invalid(value, want string) *SettingError {
	return &SettingError{Section: "idle", Field: f.name, Value: value, Want: want}
}

// set parses s into the field.
func (f field) set(s string) error {
	switch {
	case f.dur != nil:
		d, err := time.ParseDuration(s)
		if err != nil {
			return f.invalid(strconv.Quote(s), wantDuration)
		}
		*f.dur = d
	case f.num != nil:
		n, err := strconv.Atoi(s)
		if err != nil {
			return f.invalid(strconv.Quote(s), "an integer")
		}
		*f.num = n
	case f.flag != nil:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return f.invalid(strconv.Quote(s), "true or false")
		}
		*f.flag = b
	}
	return nil
}

// String formats the field's current value as set parses it.
func (f field) String() string {
	switch {
	case f.dur != nil:
		return f.dur.String()
	case f.num != nil:
		return strconv.Itoa(*f.num)
	default:
		return strconv.FormatBool(*f.flag)
	}
}
