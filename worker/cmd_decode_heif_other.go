//go:build !linux

package main

import (
	"errors"
	"syscall"
)

// limitMemory refuses: outside Linux the child cannot promise its memory limit, so HEIF
// files without a usable thumbnail item fail rather than decode unbounded.
func limitMemory(int64) error {
	return errors.New("a memory limit for the HEIF decoder process needs Linux")
}

func childProcAttr() *syscall.SysProcAttr { return nil }
