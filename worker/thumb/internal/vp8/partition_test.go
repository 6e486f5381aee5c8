package vp8

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDecodeTakesALastPartitionOf16MiBOrMore: a frame whose last token partition is 16 MiB or
// more (here a fixture's, padded with zeros its tokens never reach) decodes to the samples of the
// frame without the padding, where x/image/vp8 refuses it.
func TestDecodeTakesALastPartitionOf16MiBOrMore(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "cwebp-default.webp"))
	if err != nil {
		t.Fatal(err)
	}
	frame := chunk(t, data)
	want, err := reference(frame)
	if err != nil {
		t.Fatal(err)
	}
	padded := append(append([]byte(nil), frame...), make([]byte, 1<<24)...)
	if _, err := reference(padded); err == nil {
		t.Log("x/image/vp8 now decodes a last partition of 16 MiB or more: the comment in header.go can go")
	}
	got, err := collect(t, padded)
	if err != nil {
		t.Fatalf("Decode(a frame with a last partition of %d bytes) = %v; want its picture", len(padded)-len(frame), err)
	}
	samePlanes(t, got, want)
}
