package failure

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestErrorReadsCodeThenDetailAndIsFoundThroughWrapping(t *testing.T) {
	err := fmt.Errorf("processing a.png: %w", New(TooManyPixels, "png", "png %dx%d is over the limit", 30000, 30000))
	f := As(err)
	if f == nil || f.Code != TooManyPixels || f.Format != "png" || f.Detail() != "png 30000x30000 is over the limit" {
		t.Fatalf("As(%v) = %+v; want too-many-pixels with its detail and format", err, f)
	}
	if got := f.Error(); got != "too-many-pixels: png 30000x30000 is over the limit" {
		t.Errorf("Error() = %q; want the code, then the detail", got)
	}
	if !IsPermanent(err) || IsPermanent(errors.New("s3: SlowDown")) || IsPermanent(nil) {
		t.Error("IsPermanent must be true for a wrapped *Error and false for other errors and nil")
	}
	if Wrap(Corrupt, nil) != nil {
		t.Error("Wrap(code, nil) must stay nil")
	}
}

// TestTheREADMEListsEveryCode keeps the README's table of codes, which subscribers filter on, in
// step with the code.
func TestTheREADMEListsEveryCode(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Codes() {
		if !strings.Contains(string(b), "| `"+string(c.Code)+"` |") {
			t.Errorf("README.md has no row for the failure code %s", c.Code)
		}
	}
}
