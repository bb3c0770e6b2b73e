//go:build unix

package target

import "syscall"

// openFileLimit returns the soft limit on open descriptors; false when it
// cannot be read or is as good as unlimited.
func openFileLimit() (int, bool) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Cur > 1<<30 {
		return 0, false
	}
	return int(r.Cur), true
}
