package stack

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

var update = flag.Bool("update", false, "rewrite the template snapshots in testdata/")

// synthesized is one environment's stack, synthesized once for the whole package.
type synthesized struct {
	env         Environment
	stack       awscdk.Stack
	template    assertions.Template
	annotations assertions.Annotations
	json        map[string]any // the template, for the checks that walk it
	file        []byte         // the template file as synthesized
	nagReport   string         // path of cdk-nag's CSV report
}

// synth holds every environment's stack, by environment name.
var synth = map[string]*synthesized{}

// TestMain synthesizes every environment once, in one app (one jsii kernel, one synth), with the
// feature flags of cdk.json and cdk-nag's AwsSolutions checks, as `cdk synth` does.
func TestMain(m *testing.M) {
	flag.Parse()
	// Before the first jsii call: the kernel takes the environment when it starts. (CloudFormation
	// schema validation stays on: CDK_VALIDATION=false saved no measurable time here.)
	os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
	code := 1
	if err := synthesizeAll(); err != nil {
		fmt.Fprintln(os.Stderr, "synthesize:", err)
	} else {
		code = m.Run()
	}
	jsii.Close()
	os.Exit(code)
}

func synthesizeAll() error {
	context, err := cdkJSONContext(filepath.Join("..", "..", "cdk.json"))
	if err != nil {
		return err
	}
	// What the CLI adds (cdk.json turns off version reporting): resource paths and asset metadata.
	context["aws:cdk:enable-path-metadata"] = true
	context["aws:cdk:enable-asset-metadata"] = true
	out, err := os.MkdirTemp("", "thumbq-cdk-test-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(out)

	app := awscdk.NewApp(&awscdk.AppProps{Context: &context, Outdir: jsii.String(out)})
	for name, env := range Environments {
		stack := NewThumbnailStack(app, env.StackName(), &ThumbnailStackProps{Env: env, Image: WorkerImage{RepoRoot: filepath.Join("..", "..")}})
		synth[name] = &synthesized{env: env, stack: stack}
	}
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	app.Synth(nil)

	for _, s := range synth {
		name := *s.stack.StackName()
		s.template = assertions.Template_FromStack(s.stack, nil)
		s.annotations = assertions.Annotations_FromStack(s.stack)
		if s.file, err = os.ReadFile(filepath.Join(out, *s.stack.ArtifactId()+".template.json")); err != nil {
			return err
		}
		if err := json.Unmarshal(s.file, &s.json); err != nil {
			return err
		}
		reports, _ := filepath.Glob(filepath.Join(out, "AwsSolutions-*"+*s.stack.ArtifactId()+"-NagReport.csv"))
		if len(reports) != 1 {
			return fmt.Errorf("cdk-nag report of %s: %d files in %s", name, len(reports), out)
		}
		report, err := os.ReadFile(reports[0])
		if err != nil {
			return fmt.Errorf("cdk-nag report of %s: %w", name, err)
		}
		s.nagReport = string(report)
	}
	return nil
}

// cdkJSONContext is the "context" of cdk.json: the feature flags `cdk synth` gives the app.
func cdkJSONContext(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c.Context, nil
}

// check runs an assertion and turns its panic (assertions panic on failure) into t.Error, so one
// failure does not hide the others.
func check(t *testing.T, what string, assert func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	assert()
}

// eachEnv runs f as a subtest for every environment.
func eachEnv(t *testing.T, f func(t *testing.T, s *synthesized)) {
	for _, name := range []string{"dev", "prod"} {
		s := synth[name]
		t.Run(name, func(t *testing.T) { f(t, s) })
	}
}

// resources returns the template's resources of a type, by logical id.
func (s *synthesized) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range s.json["Resources"].(map[string]any) {
		r := r.(map[string]any)
		if r["Type"] == typ {
			out[id] = r
		}
	}
	return out
}

// id is the logical id of the one resource of the type whose properties match props.
func (s *synthesized) id(t *testing.T, typ string, props map[string]any) string {
	t.Helper()
	found := *s.template.FindResources(jsii.String(typ), map[string]any{"Properties": assertions.Match_ObjectLike(&props)})
	if len(found) != 1 {
		t.Fatalf("%d resources of type %s match %v; want 1", len(found), typ, props)
	}
	for id := range found {
		return id
	}
	return ""
}

func m(kv ...any) map[string]any {
	out := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func like(kv ...any) assertions.Matcher {
	o := m(kv...)
	return assertions.Match_ObjectLike(&o)
}

func arrayWith(items ...any) assertions.Matcher { return assertions.Match_ArrayWith(&items) }

func getAtt(id, attr string) map[string]any { return m("Fn::GetAtt", []any{id, attr}) }

func ref(id string) map[string]any { return m("Ref", id) }
