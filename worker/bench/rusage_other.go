//go:build !linux

package main

import (
	"errors"
	"os"
)

func usage(*os.ProcessState) (sample, error) {
	return sample{}, errors.New("bench reads CPU time and peak memory from Linux's rusage: run it on Linux")
}
