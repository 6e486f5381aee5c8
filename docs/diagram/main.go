// Command diagram draws thumbq's data flow from a synthesized CloudFormation template, as Graphviz
// DOT: an upload goes to the source bucket, its Object Created event through the EventBridge rule
// to the work queue, the worker takes the message, reads the upload and writes the thumbnail to
// the thumbnail bucket and a link to the topic, which emails its subscribers. The dead-letter
// queues and the alarms stand beside that path. Edges are directed and numbered in the order the
// data moves; nodes are labelled by what they are for, grouped by the CDK construct that made
// them.
//
// Everything is read from the template: the worker is the task definition whose container gets
// THUMBQ_QUEUE_URL (the names come from worker/config, as the stack's do), its buckets, queues and
// topic are what those variables reference, the rule is the one whose event pattern names the
// source bucket and whose target is the work queue, and an alarm watches what its metrics'
// dimensions reference. A template without one of these is an error, not a thinner picture.
//
//	go run ./docs/diagram -template cdk.out/dev/thumbq-dev.template.json -o docs/flow.dot
//
// make diagram runs it on a fresh synth and renders docs/flow.svg and docs/flow.png with dot; the
// test regenerates docs/flow.dot from the committed snapshot template and compares.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	template := flag.String("template", "infra/stack/testdata/thumbq-dev.template.json", "synthesized CloudFormation template (JSON)")
	out := flag.String("o", "", "file to write the DOT to (default standard output)")
	flag.Parse()
	if err := run(*template, *out); err != nil {
		fmt.Fprintln(os.Stderr, "diagram:", err)
		os.Exit(1)
	}
}

func run(templatePath, outPath string) error {
	b, err := os.ReadFile(templatePath)
	if err != nil {
		return err
	}
	t, err := parseTemplate(b)
	if err != nil {
		return fmt.Errorf("%s: %w", templatePath, err)
	}
	g, err := flow(t)
	if err != nil {
		return fmt.Errorf("%s: %w", templatePath, err)
	}
	var w io.Writer = os.Stdout
	if outPath != "" {
		f, err := os.Create(outPath)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	_, err = io.WriteString(w, g.dot())
	return err
}

// template is the part of a CloudFormation template the diagram reads.
type template struct {
	Resources map[string]resource `json:"Resources"`
}

type resource struct {
	Type       string         `json:"Type"`
	Properties map[string]any `json:"Properties"`
	Metadata   map[string]any `json:"Metadata"`
}

func parseTemplate(b []byte) (template, error) {
	var t template
	if err := json.Unmarshal(b, &t); err != nil {
		return t, fmt.Errorf("not a CloudFormation template: %w", err)
	}
	if len(t.Resources) == 0 {
		return t, fmt.Errorf("no resources")
	}
	return t, nil
}
