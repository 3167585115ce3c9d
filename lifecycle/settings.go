package lifecycle

import (
	"sync"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/idle"
)

// settings are the parts of Config that the connections of a server share.
type settings struct {
	Policy idle.Policy
	Drain  drain.Config
}

func (v settings) validate() error {
	if err := v.Policy.Validate(); err != nil {
		return err
	}
	return v.Drain.Validate()
}

// interned holds one copy of each settings value seen, so that 10,000
// connections of a server point to one (bench/memory). It keeps at most
// maxInterned values, for the life of the process; past that, a
// supervisor gets a copy of its own.
var interned struct {
	sync.Mutex
	m map[settings]*settings
}

const maxInterned = 32

// intern returns the shared copy of v, validating v the first time it is
// seen: a server's connections check their settings once.
func intern(v settings) (*settings, error) {
	interned.Lock()
	p, ok := interned.m[v]
	interned.Unlock()
	if ok {
		return p, nil
	}
	if err := v.validate(); err != nil {
		return nil, err
	}
	p = new(settings) // not &v: that would move every caller's v to the heap (144 B a connection)
	*p = v
	interned.Lock()
	defer interned.Unlock()
	if q, ok := interned.m[v]; ok {
		return q, nil // interned meanwhile
	}
	if len(interned.m) < maxInterned {
		if interned.m == nil {
			interned.m = make(map[settings]*settings)
		}
		interned.m[v] = p
	}
	return p, nil
}
