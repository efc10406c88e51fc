//go:build !linux

package broker

import "errors"

// Broker is Linux only.
type Broker struct{}

// Start fails: seccomp user notification is Linux only.
func Start(o Options) (*Broker, error) { return nil, errors.New("the connect broker needs Linux") }

// Stop does nothing.
func (b *Broker) Stop() {}
