package broker

import (
	"encoding/binary"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Layout of struct msghdr and struct mmsghdr on 64-bit Linux.
const (
	msghdrSize  = 56
	mmsghdrSize = 64
	cmsgHdrSize = 16
)

// message is the broker's own copy of one msghdr and everything it points
// to, with the caller's fds in SCM_RIGHTS replaced by the supervisor's.
type message struct {
	t       target
	data    []byte
	control []byte
	flags   uint32
}

// readMsg copies the msghdr at addr out of the caller and judges its
// destination.
func (c *call) readMsg(op string, sockfd int, addr uint64, flags uint32) (*message, error) {
	h, err := c.mem(addr, msghdrSize)
	if err != nil {
		return nil, err
	}
	le := binary.NativeEndian
	namePtr, nameLen := le.Uint64(h[0:]), int(int32(le.Uint32(h[8:])))
	iovPtr, iovLen := le.Uint64(h[16:]), le.Uint64(h[24:])
	ctlPtr, ctlLen := le.Uint64(h[32:]), le.Uint64(h[40:])
	if nameLen < 0 || nameLen > maxAddr {
		return nil, unix.EINVAL
	}
	if iovLen > maxIOV {
		return nil, unix.EMSGSIZE
	}
	if ctlLen > maxControl {
		return nil, unix.ENOBUFS
	}
	var raw []byte
	if namePtr != 0 && nameLen > 0 {
		if raw, err = c.mem(namePtr, nameLen); err != nil {
			return nil, err
		}
	}
	m := &message{flags: flags &^ unix.MSG_ZEROCOPY} // the copy is freed when the call returns
	if m.t, err = c.judge(op, sockfd, raw, true); err != nil {
		return nil, err
	}
	if m.data, err = c.readIOV(iovPtr, int(iovLen), m.t.stream); err != nil {
		return nil, err
	}
	if ctlPtr != 0 && ctlLen > 0 {
		if m.control, err = c.mem(ctlPtr, int(ctlLen)); err != nil {
			return nil, err
		}
		if err := c.translateControl(m.control); err != nil {
			return nil, err
		}
	}
	if err := c.valid(); err != nil {
		return nil, err
	}
	return m, nil
}

// readIOV gathers the iovec array's data, at most maxSend bytes: a stream
// send is cut short there (a short count is a valid answer), a datagram
// that large is refused as the kernel would refuse it.
func (c *call) readIOV(ptr uint64, n int, stream bool) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	vec, err := c.mem(ptr, n*16)
	if err != nil {
		return nil, err
	}
	le := binary.NativeEndian
	var remote []unix.RemoteIovec
	total := 0
	for i := 0; i < n && total < maxSend; i++ {
		base, size := le.Uint64(vec[16*i:]), le.Uint64(vec[16*i+8:])
		if size > maxSend-uint64(total) {
			if !stream {
				return nil, unix.EMSGSIZE
			}
			size = maxSend - uint64(total)
		}
		if size == 0 {
			continue
		}
		remote = append(remote, unix.RemoteIovec{Base: uintptr(base), Len: int(size)})
		total += int(size)
	}
	b, err := readVec(c.tid, remote, total)
	if err != nil {
		return nil, unix.EFAULT
	}
	return b, nil
}

// translateControl rewrites the ancillary data in place for the supervisor
// to send: SCM_RIGHTS fds become the supervisor's copies of the caller's
// fds, and SCM_CREDENTIALS names the supervisor, which is the sender now
// (same uid and gid; the kernel refuses another pid).
func (c *call) translateControl(b []byte) error {
	le := binary.NativeEndian
	self := uint32(os.Getpid())
	for off := 0; off+cmsgHdrSize <= len(b); {
		l := int(le.Uint64(b[off:]))
		if l < cmsgHdrSize || off+l > len(b) {
			return unix.EINVAL
		}
		level, typ := int32(le.Uint32(b[off+8:])), int32(le.Uint32(b[off+12:]))
		data := b[off+cmsgHdrSize : off+l]
		if level == unix.SOL_SOCKET && typ == unix.SCM_RIGHTS {
			for i := 0; i+4 <= len(data); i += 4 {
				fd, err := c.sock(uint64(le.Uint32(data[i:])))
				if err != nil {
					return err
				}
				le.PutUint32(data[i:], uint32(fd))
			}
		}
		if level == unix.SOL_SOCKET && typ == unix.SCM_CREDENTIALS && len(data) >= 4 {
			le.PutUint32(data, self)
		}
		off += (l + 7) &^ 7
	}
	return nil
}

// send performs one message on sockfd.
func (c *call) send(sockfd int, m *message) (int64, error) {
	iov := unix.Iovec{}
	if len(m.data) > 0 {
		iov.Base, iov.Len = &m.data[0], uint64(len(m.data))
	}
	h := unix.Msghdr{Iov: &iov, Iovlen: 1}
	if len(m.t.addr) > 0 {
		h.Name, h.Namelen = &m.t.addr[0], uint32(len(m.t.addr))
	}
	if len(m.control) > 0 {
		h.Control, h.Controllen = &m.control[0], uint64(len(m.control))
	}
	r, err := c.do(m.t, unix.SYS_SENDMSG, uintptr(sockfd), uintptr(unsafe.Pointer(&h)), uintptr(m.flags))
	runtime.KeepAlive(m)
	runtime.KeepAlive(&iov)
	return r, err
}

func (c *call) sendmsg() (int64, error) {
	sockfd, err := c.sock(c.arg(0))
	if err != nil {
		return 0, err
	}
	m, err := c.readMsg("sendmsg", sockfd, c.arg(1), uint32(c.arg(2)))
	if err != nil {
		return 0, err
	}
	return c.send(sockfd, m)
}

// sendmmsg sends the messages one by one, as the kernel does, and writes
// each one's msg_len back; an error after the first message ends the call
// with the count sent so far.
func (c *call) sendmmsg() (int64, error) {
	sockfd, err := c.sock(c.arg(0))
	if err != nil {
		return 0, err
	}
	vec, vlen, flags := c.arg(1), min(uint64(uint32(c.arg(2))), maxMsgs), uint32(c.arg(3))
	sent := int64(0)
	for i := uint64(0); i < vlen; i++ {
		at := vec + i*mmsghdrSize
		m, err := c.readMsg("sendmmsg", sockfd, at, flags)
		if err == nil {
			var n int64
			if n, err = c.send(sockfd, m); err == nil {
				var l [4]byte
				binary.NativeEndian.PutUint32(l[:], uint32(n))
				err = writeMem(c.tid, at+msghdrSize, l[:])
			}
		}
		if err != nil {
			if sent > 0 {
				return sent, nil
			}
			return 0, err
		}
		sent++
	}
	return sent, nil
}
