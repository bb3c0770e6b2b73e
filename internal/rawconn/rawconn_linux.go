//go:build linux

package rawconn

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"github.com/smp-project/smp/internal/race"
)

// Wrap returns nc with raw reads and writes when it is a TCP connection,
// nc itself otherwise (a Unix socket may be a datagram one, whose empty
// read is no end of stream). Like any net.Conn, the result may be
// used by several goroutines at once.
func Wrap(nc net.Conn) net.Conn {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nc
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nc
	}
	c := &conn{Conn: nc, rc: rc}
	// Bound once: a method value made per call would allocate.
	c.readFn, c.writeFn = c.read, c.write
	return c
}

// conn is a net.Conn whose Read and Write are raw system calls.
type conn struct {
	net.Conn
	rc syscall.RawConn

	readFn, writeFn func(fd uintptr) bool

	// The current Read's buffer and outcome, guarded by rmu (uncontended
	// in the drivers, which read from one goroutine).
	rmu  sync.Mutex
	rbuf []byte
	rn   int
	rerr syscall.Errno
	// The current Write's bytes and outcome, guarded by wmu.
	wmu  sync.Mutex
	wbuf []byte
	wn   int
	werr syscall.Errno
}

func (c *conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.rbuf, c.rn, c.rerr = p, 0, 0
	err := c.rc.Read(c.readFn)
	c.rbuf = nil
	if err != nil {
		return 0, c.opError("read", err)
	}
	if c.rerr != 0 {
		return 0, c.opError("read", os.NewSyscallError("read", c.rerr))
	}
	if c.rn == 0 {
		return 0, io.EOF
	}
	return c.rn, nil
}

// read is the callback of rc.Read: false asks the poller to wait until the
// socket is readable.
func (c *conn) read(fd uintptr) bool {
	for {
		n, e := sysRead(fd, c.rbuf)
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		case 0:
			c.rn = int(n)
		default:
			c.rerr = e
		}
		return true
	}
}

func (c *conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf, c.wn, c.werr = p, 0, 0
	var err error
	if len(p) > 0 {
		err = c.rc.Write(c.writeFn)
	}
	c.wbuf = nil
	n := c.wn
	if err != nil {
		return n, c.opError("write", err)
	}
	if c.werr != 0 {
		return n, c.opError("write", os.NewSyscallError("write", c.werr))
	}
	return n, nil
}

// write is the callback of rc.Write: it writes until everything is out or
// the socket's buffer is full (false: wait until it is writable).
func (c *conn) write(fd uintptr) bool {
	for c.wn < len(c.wbuf) {
		rest := c.wbuf[c.wn:]
		n, e := sysWrite(fd, rest)
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		case 0:
			c.wn += int(n)
		default:
			c.werr = e
			return true
		}
	}
	return true
}

// sysRead reads from fd into p (not empty) without entering the runtime's
// syscall state. Under the race detector it goes through syscall.Read,
// whose annotations tell the detector that a write to a socket happens
// before the read of the same bytes at the other end: without them, a
// test whose server and client share a process reports false races.
func sysRead(fd uintptr, p []byte) (int, syscall.Errno) {
	if race.Enabled {
		n, err := syscall.Read(int(fd), p)
		return max(n, 0), errno(err)
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), e
}

// sysWrite writes p (not empty) to fd as sysRead reads.
func sysWrite(fd uintptr, p []byte) (int, syscall.Errno) {
	if race.Enabled {
		n, err := syscall.Write(int(fd), p)
		return max(n, 0), errno(err)
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), e
}

func errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	return err.(syscall.Errno)
}

// opError describes err as net.Conn's own methods would: the poller's
// errors (deadline, closed connection) come wrapped as a "raw-read" or
// "raw-write" *net.OpError, which would read oddly in an error sample.
func (c *conn) opError(op string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// CloseWrite shuts down the writing side, as *net.TCPConn's does: servers
// (net/http's among them) half-close a connection they end this way.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return &net.OpError{Op: "close", Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: errors.ErrUnsupported}
}

// Listener returns ln with its accepted connections wrapped by Wrap.
func Listener(ln net.Listener) net.Listener { return listener{ln} }

type listener struct{ net.Listener }

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Wrap(c), nil
}

// Unwrap returns the connection Wrap wrapped, nc itself when it is not
// one of Wrap's, so that type-specific methods (SetLinger) stay reachable.
func Unwrap(nc net.Conn) net.Conn {
	if c, ok := nc.(*conn); ok {
		return c.Conn
	}
	return nc
}
