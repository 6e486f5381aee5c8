package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/thumbq/thumbq/infra/snapshot"
	"github.com/thumbq/thumbq/infra/stack"
)

const repoRoot = ".."

var cdkCLI = filepath.Join("infra", "_cli", "node_modules", ".bin", "cdk") // relative to repoRoot

func TestMain(m *testing.M) {
	os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// offlineEnv is the environment with no AWS credentials or profile and no telemetry: synth must
// work on a fresh clone without an account.
func offlineEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "CDK_DEFAULT_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull, "AWS_EC2_METADATA_DISABLED=true",
		"CDK_DISABLE_CLI_TELEMETRY=true", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20")
}

func requireCLI(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(repoRoot, cdkCLI)); err != nil {
		t.Skipf("the pinned CDK CLI is not installed (make cdk-cli; `make test` installs it): %v", err)
	}
}

// `cdk synth` through the pinned CLI, as a user runs it (cdk.json's app, cdk-nag included), works
// offline and gives the committed snapshot, its worker image built with the last commit of its
// sources; the staged image asset holds what the Dockerfile needs
// and nothing the .dockerignore leaves out.
func TestCDKSynthOffline(t *testing.T) {
	requireCLI(t)
	for _, env := range []string{"dev", "prod"} {
		t.Run(env, func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			cmd := exec.Command(cdkCLI, "synth", "-c", "env="+env, "-o", out, "--quiet")
			cmd.Dir = repoRoot
			cmd.Env = offlineEnv()
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("cdk synth -c env=%s: %v\n%s", env, err, b)
			}
			stack := "thumbq-" + env
			b, err := os.ReadFile(filepath.Join(out, stack+".template.json"))
			if err != nil {
				t.Fatal(err)
			}
			if commit := workerCommit(repoRoot); commit != "" && !bytes.Contains(b, []byte(`"THUMBQ_COMMIT": "`+commit+`"`)) {
				t.Errorf("the worker image is not built with THUMBQ_COMMIT=%s, the last commit of its sources", commit)
			}
			got, err := snapshot.Normalize(b)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join("stack", "testdata", stack+".template.json"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("cdk synth's %s template differs from the snapshot that the stack tests synthesize: "+
					"cdk.json's context and the tests' app disagree", stack)
			}
			checkImageAsset(t, out)
			if env == "dev" {
				checkDiagram(t, out)
			}
		})
	}
}

// checkImageAsset checks the staged Docker build context of the worker image.
func checkImageAsset(t *testing.T, out string) {
	t.Helper()
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "asset.") {
			continue
		}
		dir := filepath.Join(out, e.Name())
		if _, err := os.Stat(filepath.Join(dir, "worker", "Dockerfile")); err != nil {
			continue // another asset (the auto-delete-objects provider's code)
		}
		for _, need := range []string{"go.mod", "go.sum", "worker/main.go", "worker/config/config.go"} {
			if _, err := os.Stat(filepath.Join(dir, need)); err != nil {
				t.Errorf("image build context lacks %s", need)
			}
		}
		for _, never := range []string{"cdk.out", ".git", "infra", "out", "bin", "worker/samples", "README.md"} {
			if _, err := os.Stat(filepath.Join(dir, never)); err == nil {
				t.Errorf("image build context holds %s: fix .dockerignore", never)
			}
		}
		filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err == nil && (strings.HasSuffix(path, "_test.go") || d.Name() == "testdata") {
				t.Errorf("image build context holds %s", strings.TrimPrefix(path, dir))
			}
			return nil
		})
		return
	}
	t.Errorf("no staged image asset with worker/Dockerfile in %s", out)

}

// checkDiagram regenerates the architecture diagram's Graphviz source from the synthesized dev app
// and compares it with the committed docs/architecture.dot, from which `make diagram` renders
// docs/architecture.png: the diagram cannot drift from the code. (cdk-dia writes the .dot before
// it calls Graphviz, which this test does not need.)
func checkDiagram(t *testing.T, out string) {
	t.Helper()
	dia := filepath.Join(repoRoot, "infra", "_cli", "node_modules", ".bin", "cdk-dia")
	target := filepath.Join(t.TempDir(), "architecture.png")
	cmd := exec.Command(dia, "--tree", filepath.Join(out, "tree.json"), "--include", "thumbq-dev", "--target", target)
	cmd.Env = offlineEnv()
	b, err := cmd.CombinedOutput()
	got, readErr := os.ReadFile(strings.TrimSuffix(target, ".png") + ".dot")
	if readErr != nil {
		t.Fatalf("cdk-dia wrote no .dot: %v; %v\n%s", readErr, err, b)
	}
	icons := regexp.MustCompile(`"[^"]*/infra/_cli/node_modules/cdk-dia/icons/`)
	got = icons.ReplaceAll(got, []byte(`"infra/_cli/node_modules/cdk-dia/icons/`))
	want, err := os.ReadFile(filepath.Join(repoRoot, "docs", "architecture.dot"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("docs/architecture.dot is not the diagram of the synthesized app: run `make diagram` and commit docs/")
	}
}

func TestListContext(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]any{
		"fromCLI":   " a@example.com, ,b@example.com ",
		"fromJSON":  []any{"c@example.com", " ", "d@example.com"},
		"env":       " prod ",
		"notString": 3,
	}})
	for _, tc := range []struct {
		key  string
		want []string
	}{
		{"fromCLI", []string{"a@example.com", "b@example.com"}},
		{"fromJSON", []string{"c@example.com", "d@example.com"}},
		{"absent", nil},
		{"notString", nil},
	} {
		if got := listContext(app, tc.key); !slices.Equal(got, tc.want) {
			t.Errorf("listContext(%q) = %q; want %q", tc.key, got, tc.want)
		}
	}
	if got := stringContext(app, "env"); got != "prod" {
		t.Errorf(`stringContext("env") = %q; want "prod"`, got)
	}
	if got := stringContext(app, "notString"); got != "" {
		t.Errorf(`stringContext("notString") = %q; want ""`, got)
	}
}

// The image CDK builds from worker/Dockerfile (docker cannot run here) carries the production
// binary only: static, without the local emulators, non-root, running `thumbq work`.
func TestDockerfileBuildsTheProductionWorker(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, stack.Dockerfile))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	stages := strings.Count(df, "\nFROM ")
	last := df[strings.LastIndex(df, "\nFROM "):]
	for _, want := range []struct{ where, text, why string }{
		{df, "CGO_ENABLED=0", "a static binary"},
		{df, "-tags nolocal", "no local emulators in production"},
		{df, "-trimpath", "reproducible, no build paths"},
		{df, "./worker", "the worker package"},
		{last, "FROM gcr.io/distroless/static-debian12:nonroot", "a small runtime image with CA certificates"},
		{last, "USER " + stack.ContainerUser, "the non-root user the task definition names"},
		{df, "COPY worker/ worker/", "the worker's sources"},
		{last, `CMD ["work"]`, "the work subcommand"},
	} {
		if !strings.Contains(want.where, want.text) {
			t.Errorf("worker/Dockerfile lacks %q (%s)", want.text, want.why)
		}
	}
	if regexp.MustCompile(`(?m)^RUN .*go mod download`).MatchString(df) {
		t.Error("worker/Dockerfile runs go mod download: it fetches every module of go.mod, the CDK's too; go build fetches what the worker imports")
	}
	if stages < 2 {
		t.Errorf("worker/Dockerfile has %d stages; want a multi-stage build", stages)
	}
	if strings.Contains(last, "RUN ") {
		t.Error("the runtime stage runs commands: it would need emulation to build for arm64 on x86")
	}
}

// TestWorkerCommitNamesACommitOfTheWorker: in a git checkout, workerCommit is a commit that
// touched the worker's sources (with "+modified" when they have uncommitted changes).
func TestWorkerCommitNamesACommitOfTheWorker(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	if err := exec.Command("git", "-C", repoRoot, "rev-parse", "HEAD").Run(); err != nil {
		t.Skip("not a git checkout")
	}
	commit := workerCommit(repoRoot)
	hash := strings.TrimSuffix(commit, "+modified")
	if !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(hash) {
		t.Fatalf("workerCommit = %q; want a commit hash", commit)
	}
	out, err := exec.Command("git", "-C", repoRoot, "show", "--name-only", "--format=", hash).Output()
	if err != nil {
		t.Fatal(err)
	}
	touched := false
	for _, f := range strings.Fields(string(out)) {
		touched = touched || strings.HasPrefix(f, "worker/") || f == "go.mod" || f == "go.sum"
	}
	if !touched {
		t.Errorf("commit %s changes none of worker/, go.mod, go.sum:\n%s", hash, out)
	}
}
