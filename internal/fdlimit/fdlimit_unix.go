//go:build unix

package fdlimit

import "golang.org/x/sys/unix"

// Raise raises the soft limit on open files to the hard limit, unless Go
// has already raised it (to one below), and returns the soft limit then in
// force. It returns 0 when the limit is unknown or there is none.
func Raise() uint64 {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	if lim.Max > 0 && lim.Cur < lim.Max-1 {
		raised := lim
		raised.Cur = lim.Max
		if unix.Setrlimit(unix.RLIMIT_NOFILE, &raised) == nil {
			lim = raised
		}
	}
	if lim.Cur == unix.RLIM_INFINITY {
		return 0
	}
	return uint64(lim.Cur)
}
