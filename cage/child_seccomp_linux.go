package cage

// installSeccomp is replaced once the seccomp layer lands.
func (p *Policy) installSeccomp() error { return nil }
