// Package snapshot normalizes synthesized CloudFormation templates for the committed snapshots in
// infra/stack/testdata, so that a snapshot is the same on every machine and does not change with
// every change to the worker: the worker image's asset hash (a hash of its whole build context)
// and the commit it is built from (its THUMBQ_COMMIT build argument) become placeholders. Everything else, key order and CDK's own assets included, stays as
// `cdk synth` wrote it, so that `cdk diff --template` against a snapshot shows only real changes.
package snapshot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
)

// ImageHash replaces the container image asset hash in a normalized template.
const ImageHash = "<image-asset-hash>"

// imageTag is an image URI's tag in CDK's container asset repository: the asset hash.
var imageTag = regexp.MustCompile(`(container-assets-[^"]*:)[0-9a-f]{64}\b`)

// imagePath is the asset folder a Lambda function's image metadata names (ECS's does not): the
// same hash, followed by the Dockerfile's path.
var imagePath = regexp.MustCompile(`("aws:asset:path": "asset\.)[0-9a-f]{64}("[,\s]*"aws:asset:dockerfile-path")`)

// imageCommit is the worker image's THUMBQ_COMMIT build argument in the asset metadata of a
// Lambda function's image.
var imageCommit = regexp.MustCompile(`("THUMBQ_COMMIT": )"[^"]*"`)

// ImageCommit replaces the worker image's commit in a normalized template.
const ImageCommit = "<worker-commit>"

// Normalize returns the template with its image asset hashes and commit replaced, ending with a
// newline.
func Normalize(template []byte) ([]byte, error) {
	if !json.Valid(template) {
		return nil, fmt.Errorf("template is not valid JSON")
	}
	out := imageTag.ReplaceAll(bytes.TrimRight(template, "\n"), []byte("${1}"+ImageHash))
	out = imagePath.ReplaceAll(out, []byte("${1}"+ImageHash+"${2}"))
	out = imageCommit.ReplaceAll(out, []byte(`${1}"`+ImageCommit+`"`))
	return append(out, '\n'), nil
}
