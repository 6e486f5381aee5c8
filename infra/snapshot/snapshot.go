// Package snapshot normalizes synthesized CloudFormation templates for the committed snapshots in
// infra/stack/testdata, so that a snapshot is the same on every machine and with or without the
// CDK CLI: asset hashes (the worker image's changes with every worker source change) become a
// placeholder, and what only the CLI adds (path metadata, the CDKMetadata resource) is dropped.
package snapshot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// AssetHash replaces every asset hash in a normalized template.
const AssetHash = "<asset-hash>"

var hash = regexp.MustCompile(`\b[0-9a-f]{64}\b`)

// Normalize returns the template with asset hashes replaced, the CLI's metadata removed and its
// keys sorted, indented by one space like `cdk synth`'s output, ending with a newline.
func Normalize(template []byte) ([]byte, error) {
	var t map[string]any
	if err := json.Unmarshal(template, &t); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	if resources, ok := t["Resources"].(map[string]any); ok {
		delete(resources, "CDKMetadata")
		for _, r := range resources {
			r, ok := r.(map[string]any)
			if !ok {
				continue
			}
			if md, ok := r["Metadata"].(map[string]any); ok {
				for k := range md {
					if strings.HasPrefix(k, "aws:cdk:") || strings.HasPrefix(k, "aws:asset:") {
						delete(md, k)
					}
				}
				if len(md) == 0 {
					delete(r, "Metadata")
				}
			}
		}
	}
	if conds, ok := t["Conditions"].(map[string]any); ok {
		delete(conds, "CDKMetadataAvailable")
		if len(conds) == 0 {
			delete(t, "Conditions")
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(t); err != nil {
		return nil, err
	}
	return hash.ReplaceAll(buf.Bytes(), []byte(AssetHash)), nil
}
