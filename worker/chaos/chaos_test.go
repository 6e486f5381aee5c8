package main

import (
	"context"
	"os"
	"testing"
)

// TestAShortChaosRunLosesNothing is make chaos in small: 30 uploads, 2 workers behind 20% faults,
// 6 SIGKILLs and 2 SIGTERMs. Nothing may be lost, stuck invisible, dead-lettered without a reason
// or dead-lettered after succeeding, and no upload may get two different notifications.
func TestAShortChaosRunLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("the chaos run takes about a minute")
	}
	o := defaultOptions()
	o.uploads, o.workers, o.kills, o.terms, o.seed = 30, 2, 6, 2, 7
	o.dir = t.TempDir()
	r, err := run(context.Background(), o, os.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.verdict(); err != nil {
		t.Errorf("chaos run: %v (worker logs were in %s)", err, o.dir)
	}
	if r.Kills+r.Terms == 0 || r.Requests == 0 {
		t.Errorf("the run signalled %d workers and proxied %d requests; want both (the harness did not run)", r.Kills+r.Terms, r.Requests)
	}
	var faults int64
	for _, n := range r.Faults {
		faults += n
	}
	if faults == 0 {
		t.Error("no fault was injected")
	}
}
