package cage

import (
	"os"
	"syscall"
	"testing"
)

// A signal that came before the command started ends the start when it
// would have ended aicage; SIGWINCH does not.
func TestEndingSignal(t *testing.T) {
	for _, tc := range []struct {
		queued []os.Signal
		want   syscall.Signal
		ends   bool
	}{
		{nil, 0, false},
		{[]os.Signal{syscall.SIGWINCH, syscall.SIGWINCH}, 0, false},
		{[]os.Signal{syscall.SIGWINCH, syscall.SIGTERM}, syscall.SIGTERM, true},
		{[]os.Signal{syscall.SIGINT}, syscall.SIGINT, true},
		{[]os.Signal{syscall.SIGUSR1, syscall.SIGHUP}, syscall.SIGUSR1, true},
	} {
		c := make(chan os.Signal, 4)
		for _, s := range tc.queued {
			c <- s
		}
		got, ends := endingSignal(c)
		if got != tc.want || ends != tc.ends {
			t.Errorf("endingSignal(%v) = %v, %v; want %v, %v", tc.queued, got, ends, tc.want, tc.ends)
		}
	}
}
