// Package snapshot normalizes synthesized CloudFormation templates for the committed snapshots in
// infra/stack/testdata, so that a snapshot is the same on every machine: asset hashes (the worker
// image's changes with every change to the worker's source) become a placeholder. Everything
// else, key order included, stays as `cdk synth` wrote it, so that `cdk diff --template` against
// a snapshot shows only real changes.
package snapshot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
)

// AssetHash replaces every asset hash in a normalized template.
const AssetHash = "<asset-hash>"

var hash = regexp.MustCompile(`\b[0-9a-f]{64}\b`)

// Normalize returns the template with its asset hashes replaced, ending with a newline.
func Normalize(template []byte) ([]byte, error) {
	if !json.Valid(template) {
		return nil, fmt.Errorf("template is not valid JSON")
	}
	out := hash.ReplaceAll(bytes.TrimRight(template, "\n"), []byte(AssetHash))
	return append(out, '\n'), nil
}
