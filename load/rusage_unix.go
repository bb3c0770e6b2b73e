//go:build unix

package load

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time this process has used so far, in user
// space and in the kernel on its behalf.
func processCPU() (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}
