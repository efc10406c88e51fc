package broker

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// notif is struct seccomp_notif with its struct seccomp_data.
type notif struct {
	id    uint64
	pid   uint32
	flags uint32
	nr    int32
	arch  uint32
	ip    uint64
	args  [6]uint64
}

// notifResp is struct seccomp_notif_resp.
type notifResp struct {
	id    uint64
	val   int64
	error int32
	flags uint32
}

func ioctlPtr(fd int, req uint, p unsafe.Pointer) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(p))
	if errno != 0 {
		return errno
	}
	return nil
}

// recv takes the next notification; the kernel wants the struct zeroed.
func recv(fd int, n *notif) error {
	*n = notif{}
	return ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(n))
}

func respond(fd int, r *notifResp) error {
	return ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(r))
}

// idValid tells that the caller is still waiting in the call that id names:
// whatever was read of it before (its memory, its /proc entries) belonged
// to it and not to a process that reused its pid.
func idValid(fd int, id uint64) error {
	return ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_ID_VALID, unsafe.Pointer(&id))
}

// pidfdThread is PIDFD_THREAD (Linux 6.9): a pidfd for one thread.
const pidfdThread = unix.O_EXCL

// openPidfd opens a pidfd for the caller's process. The notification names
// a thread; pidfd_open wants a thread-group leader unless PIDFD_THREAD.
func openPidfd(tid int) (int, error) {
	fd, err := unix.PidfdOpen(tid, pidfdThread)
	if err == nil {
		return fd, nil
	}
	if !errors.Is(err, unix.EINVAL) {
		return -1, err
	}
	tgid, err := threadGroup(tid)
	if err != nil {
		return -1, err
	}
	return unix.PidfdOpen(tgid, 0)
}

func threadGroup(tid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Tgid:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("no Tgid in /proc/%d/status", tid)
}

// readMem copies n bytes at addr out of process pid.
func readMem(pid int, addr uint64, n int) ([]byte, error) {
	buf := make([]byte, n)
	if n == 0 {
		return buf, nil
	}
	got, err := unix.ProcessVMReadv(pid,
		[]unix.Iovec{{Base: &buf[0], Len: uint64(n)}},
		[]unix.RemoteIovec{{Base: uintptr(addr), Len: n}}, 0)
	if err != nil {
		return nil, err
	}
	if got != n {
		return nil, unix.EFAULT
	}
	return buf, nil
}

// readVec copies the remote ranges into one buffer, in order.
func readVec(pid int, remote []unix.RemoteIovec, total int) ([]byte, error) {
	buf := make([]byte, total)
	if total == 0 {
		return buf, nil
	}
	// process_vm_readv takes at most IOV_MAX ranges per call.
	off := 0
	for len(remote) > 0 {
		chunk := remote[:min(len(remote), 1024)]
		remote = remote[len(chunk):]
		n := 0
		for _, r := range chunk {
			n += r.Len
		}
		if n == 0 {
			continue
		}
		got, err := unix.ProcessVMReadv(pid, []unix.Iovec{{Base: &buf[off], Len: uint64(n)}}, chunk, 0)
		if err != nil {
			return nil, err
		}
		if got != n {
			return nil, unix.EFAULT
		}
		off += n
	}
	return buf, nil
}

func writeMem(pid int, addr uint64, b []byte) error {
	got, err := unix.ProcessVMWritev(pid,
		[]unix.Iovec{{Base: &b[0], Len: uint64(len(b))}},
		[]unix.RemoteIovec{{Base: uintptr(addr), Len: len(b)}}, 0)
	if err != nil {
		return err
	}
	if got != len(b) {
		return unix.EFAULT
	}
	return nil
}
