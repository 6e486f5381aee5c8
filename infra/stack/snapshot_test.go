package stack

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/thumbq/thumbq/infra/snapshot"
)

// SnapshotFile is the committed, normalized template of an environment's stack.
func SnapshotFile(stackName string) string {
	return filepath.Join("testdata", stackName+".template.json")
}

// TestSnapshot fails when the synthesized template differs from the committed snapshot. Review
// the difference (`make diff` shows it as `cdk diff` does), then accept it with
// `go test ./infra/stack -run Snapshot -update` and commit the snapshot with the change.
func TestSnapshot(t *testing.T) {
	eachEnv(t, func(t *testing.T, s *synthesized) {
		got, err := snapshot.Normalize(s.file)
		if err != nil {
			t.Fatal(err)
		}
		path := SnapshotFile(*s.stack.StackName())
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (create it with -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("the %s template differs from %s (see `make diff`; accept with -update):\n%s",
				s.env.Name, path, firstDifference(string(want), string(got)))
		}
	})
}

// firstDifference shows the first differing line of two texts with a little context.
func firstDifference(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		if i >= len(w) || i >= len(g) || w[i] != g[i] {
			from := max(0, i-3)
			line := func(l []string, j int) string {
				if j < len(l) {
					return l[j]
				}
				return "<end>"
			}
			var b strings.Builder
			for j := from; j <= i; j++ {
				b.WriteString("  snapshot: " + line(w, j) + "\n")
			}
			b.WriteString("  now:      " + line(g, i) + "\n")
			return b.String()
		}
	}
	return ""
}
