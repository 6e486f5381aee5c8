package vp8

import (
	"context"
	"os"
	"runtime"
	"testing"
)

// TestMemoryBoundsDecode: what Decode allocates, all told, is within Memory of the frame's width,
// on every fixture (webpscale's test of the same name checks a 2000 x 1500 picture too).
func TestMemoryBoundsDecode(t *testing.T) {
	for _, file := range fixtures(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		frame := chunk(t, data)
		w, h, err := DecodeConfig(frame)
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if err := Decode(context.Background(), frame, func(Band) error { return nil }); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		if got := int64(after.TotalAlloc - before.TotalAlloc); got > Memory(w) {
			t.Errorf("Decode(%s, %dx%d) allocated %d bytes; Memory(%d) = %d", file, w, h, got, w, Memory(w))
		}
	}
}
