//go:build linux || darwin || freebsd

package bolt

import "syscall"

// freeSpace reports the bytes an unprivileged writer may still allocate on
// the file system holding dir, and whether it could tell.
func freeSpace(dir string) (int64, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return int64(uint64(st.Bavail) * uint64(st.Bsize)), true
}
