package main

import (
	"encoding/json"
	"flag"
	"html"
	"os"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/flow.dot from the snapshot template")

const (
	snapshot = "../../infra/stack/testdata/thumbq-dev.template.json"
	golden   = "../flow.dot"
)

func snapshotTemplate(t *testing.T) template {
	t.Helper()
	b, err := os.ReadFile(snapshot)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := parseTemplate(b)
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

// TestFlowIsTheApps keeps docs/flow.dot in step with the app: the committed snapshot of the
// synthesized template (which the infra tests keep in step with the code) must give exactly it.
func TestFlowIsTheApps(t *testing.T) {
	g, err := flow(snapshotTemplate(t))
	if err != nil {
		t.Fatal(err)
	}
	got := g.dot()
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("docs/flow.dot is not what the app's template gives: run make diagram (or go test ./docs/diagram -update, then render) and commit docs/flow.*\n%s", lineDiff(string(want), got))
	}
	// The pictures are rendered from the DOT by make diagram: each node's text must be in the SVG.
	svg, err := os.ReadFile("../flow.svg")
	if err != nil {
		t.Fatalf("docs/flow.svg: %v (make diagram renders it)", err)
	}
	text := html.UnescapeString(string(svg)) // Graphviz writes "-" as "&#45;"
	for _, n := range g.nodes {
		for _, line := range strings.Split(n.label, "\n") {
			if !strings.Contains(text, ">"+line+"<") {
				t.Errorf("docs/flow.svg lacks %q: render it again with make diagram", line)
			}
		}
	}
	if _, err := os.Stat("../flow.png"); err != nil {
		t.Errorf("docs/flow.png: %v (make diagram renders it)", err)
	}
}

// TestFlowOrder: the numbered edges follow the data, from the upload to the email.
func TestFlowOrder(t *testing.T) {
	g, err := flow(snapshotTemplate(t))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range g.edges {
		step, _, _ := strings.Cut(e.label, " ")
		if _, err := strconv.Atoi(step); err == nil && e.kind == flowEdge {
			got = append(got, step+" "+e.from+" -> "+e.to)
		}
	}
	want := []string{
		"1 uploader -> source", "2 source -> rule", "3 rule -> work", "4 work -> worker",
		"5 source -> worker", "6 worker -> thumbnails", "7 worker -> topic", "8 topic -> topic_subscribers",
		"9 topic_subscribers -> links", "10 links -> thumbnails",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("numbered edges:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	beside := map[string]bool{}
	for _, e := range g.edges {
		if e.kind == sideEdge {
			beside[e.from+" -> "+e.to] = true
		}
	}
	for _, want := range []string{"worker -> deadletters", "work -> deadletters", "rule -> undelivered"} {
		if !beside[want] {
			t.Errorf("no side edge %s", want)
		}
	}
	for _, n := range g.nodes {
		if strings.Contains(n.label, "AWS::") || strings.Contains(n.label, "Service Service") {
			t.Errorf("node %s is labelled by its type, not its purpose: %q", n.id, n.label)
		}
	}
}

// TestATemplateWithoutAPieceIsAnError: a missing piece of the flow is an error naming it, not a
// thinner picture.
func TestATemplateWithoutAPieceIsAnError(t *testing.T) {
	for _, tc := range []struct{ typ, want string }{
		{"AWS::Events::Rule", "no EventBridge rule"},
		{"AWS::ECS::Service", "no ECS service"},
		{"AWS::ECS::TaskDefinition", "where is the worker"},
	} {
		tmpl := snapshotTemplate(t)
		for id, r := range tmpl.Resources {
			if r.Type == tc.typ {
				delete(tmpl.Resources, id)
			}
		}
		b, _ := json.Marshal(tmpl)
		tmpl, _ = parseTemplate(b)
		if _, err := flow(tmpl); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("flow(template without %s) = %v; want an error saying %q", tc.typ, err, tc.want)
		}
	}
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	w, g := in(want), in(got)
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}
