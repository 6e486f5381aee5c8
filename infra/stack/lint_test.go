package stack

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// cfnLintIgnored are the cfn-lint rules not applied to our templates, each with its reason.
var cfnLintIgnored = map[string]string{
	// CDK's own custom-resource providers (the default security group's restriction, dev's
	// auto-delete of bucket objects) declare DependsOn on their role besides the GetAtt: CDK's code,
	// harmless, not ours to change.
	"W3005": "redundant DependsOn in CDK's custom-resource providers",
}

// TestCfnLint runs AWS's cfn-lint (installed on every machine of the project and in CI) on every
// environment's synthesized template: no error, and no warning except the ignored rules above.
// Where cfn-lint is missing the test skips, saying so; CI (THUMBQ_REQUIRE_PEERS=1) fails instead.
func TestCfnLint(t *testing.T) {
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		skipWithoutPeer(t, "cfn-lint is not installed (pip install cfn-lint==1.51.0): the templates were not linted")
	}
	eachEnv(t, func(t *testing.T, s *synthesized) {
		path := filepath.Join(t.TempDir(), *s.stack.StackName()+".template.json")
		if err := os.WriteFile(path, s.file, 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"--format", "json"}
		for rule := range cfnLintIgnored {
			args = append(args, "--ignore-checks", rule)
		}
		out, err := exec.Command(lint, append(args, "--", path)...).Output()
		var findings []struct {
			Rule struct {
				ID string `json:"Id"`
			} `json:"Rule"`
			Message  string `json:"Message"`
			Level    string `json:"Level"`
			Location struct {
				Path []any `json:"Path"`
			} `json:"Location"`
		}
		if jerr := json.Unmarshal(out, &findings); jerr != nil {
			t.Fatalf("cfn-lint: %v (output %q): %v", err, out, jerr)
		}
		for _, f := range findings {
			if f.Level == "Informational" {
				continue
			}
			t.Errorf("cfn-lint %s %s at %v: %s", f.Level, f.Rule.ID, f.Location.Path, strings.TrimSpace(f.Message))
		}
	})
}

// skipWithoutPeer skips a test whose peer (cfn-lint, moto) is missing, or fails it when
// THUMBQ_REQUIRE_PEERS is set, as .ci/run sets it: CI must not pass on a skipped peer test.
func skipWithoutPeer(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("THUMBQ_REQUIRE_PEERS") != "" {
		t.Fatal("THUMBQ_REQUIRE_PEERS is set: " + why)
	}
	t.Skip(why)
}
