// Command infra is thumbq's CDK app, the program cdk.json tells the CDK CLI to run: it picks the
// environment (-c env=dev|prod) and the email subscribers from the CDK context, builds that
// environment's stack (package infra/stack), adds cdk-nag's AwsSolutions checks and synthesizes.
// `make synth`, `make diff` and `make deploy` run it.
package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/thumbq/thumbq/infra/stack"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)

	env, err := stack.Lookup(stringContext(app, "env"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if env, err = env.WithContext(func(key string) string { return stringContext(app, key) }); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	env.NotifyEmails = listContext(app, "notifyEmails")
	env.OpsEmails = listContext(app, "opsEmails")
	switch v := stringContext(app, "emailDigest"); v {
	case "":
	case "true", "false":
		env.EmailDigest = v == "true"
	default:
		fmt.Fprintf(os.Stderr, "-c emailDigest=%s: want true (a digest, at most 1 email per second) or false (an email per upload)\n", v)
		os.Exit(2)
	}

	// The stack is environment-agnostic: account and region come from the credentials at deploy
	// time, so synth needs none (offline review, snapshot) and its template is the same with or
	// without them.
	image := stack.WorkerImage{RepoRoot: ".", Commit: workerCommit(".")}
	stack.NewThumbnailStack(app, env.StackName(), &stack.ThumbnailStackProps{Env: env, Image: image})

	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	app.Synth(nil)
}

// workerCommit is the last commit that changed what the worker's image is built from (worker/,
// go.mod, go.sum), with "+modified" when those files have uncommitted changes: the commit
// thumbq --version reports in the image. It is "" where git or the history is missing (a source
// tarball), and the image then says "commit unknown".
func workerCommit(repoRoot string) string {
	sources := []string{"--", "worker", "go.mod", "go.sum"}
	out, err := exec.Command("git", append([]string{"-C", repoRoot, "log", "-1", "--format=%H"}, sources...)...).Output()
	commit := strings.TrimSpace(string(out))
	if err != nil || commit == "" {
		fmt.Fprintln(os.Stderr, "note: no git history here: the worker image's thumbq --version will say \"commit unknown\"")
		return ""
	}
	status, err := exec.Command("git", append([]string{"-C", repoRoot, "status", "--porcelain"}, sources...)...).Output()
	if err != nil || len(bytes.TrimSpace(status)) > 0 {
		commit += "+modified"
	}
	return commit
}

// stringContext is a context value given as a string (-c key=value or cdk.json), or "".
func stringContext(app awscdk.App, key string) string {
	s, _ := app.Node().TryGetContext(jsii.String(key)).(string)
	return strings.TrimSpace(s)
}

// listContext is a context value given as a comma-separated string (-c key=a,b) or as a list of
// strings (cdk.json), without empty items.
func listContext(app awscdk.App, key string) []string {
	var items []string
	switch v := app.Node().TryGetContext(jsii.String(key)).(type) {
	case string:
		items = strings.Split(v, ",")
	case []interface{}:
		for _, item := range v {
			if s, ok := item.(string); ok {
				items = append(items, s)
			}
		}
	}
	out := items[:0]
	for _, s := range items {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
