package inject

import (
	"bytes"
	"io"
)

// scrubber replaces every occurrence of secret in a stream with with. It
// holds back only a tail that could be the start of the secret, so a
// streamed answer (server-sent events) passes at once.
type scrubber struct {
	r       io.ReadCloser
	secret  []byte
	with    []byte
	pending []byte // read, not yet given out
	out     []byte // scrubbed, not yet given out
	err     error
}

func (s *scrubber) Read(p []byte) (int, error) {
	for len(s.out) == 0 {
		if s.err != nil {
			if len(s.pending) > 0 {
				s.out, s.pending = s.pending, nil
				break
			}
			return 0, s.err
		}
		buf := make([]byte, max(len(p), 4096))
		n, err := s.r.Read(buf)
		s.err = err
		data := append(s.pending, buf[:n]...)
		if len(s.secret) > 0 {
			data = bytes.ReplaceAll(data, s.secret, s.with)
		}
		keep := 0
		if s.err == nil {
			keep = partialSuffix(data, s.secret)
		}
		s.out = append(s.out, data[:len(data)-keep]...)
		s.pending = append([]byte(nil), data[len(data)-keep:]...)
	}
	n := copy(p, s.out)
	s.out = s.out[n:]
	return n, nil
}

func (s *scrubber) Close() error { return s.r.Close() }

// partialSuffix is the length of the longest suffix of b that is a proper
// prefix of secret.
func partialSuffix(b, secret []byte) int {
	for n := min(len(b), len(secret)-1); n > 0; n-- {
		if bytes.HasSuffix(b, secret[:n]) {
			return n
		}
	}
	return 0
}
