package main

import "syscall"

// limitMemory sets this process's RLIMIT_DATA, soft and hard, to n bytes. Since Linux 4.7 it
// counts every private writable mapping (the Go heap, wazero's linear memories and its code
// while written), not the address space the Go runtime reserves without access (over a gigabyte,
// which makes RLIMIT_AS useless as a memory bound): a mapping beyond it fails, and the Go runtime
// then exits with "out of memory". Resident memory stays below it.
func limitMemory(n int64) error {
	return syscall.Setrlimit(syscall.RLIMIT_DATA, &syscall.Rlimit{Cur: uint64(n), Max: uint64(n)})
}

// childProcAttr has the kernel kill the child when the thread that started it ends, so a worker
// killed outright leaves no decoder running.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
