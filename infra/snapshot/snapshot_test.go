package snapshot

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	h := strings.Repeat("ab12", 16)
	in := `{
 "Resources": {
  "Task": {
   "Type": "AWS::ECS::TaskDefinition",
   "Properties": {"Image": "${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/cdk-hnb659fds-container-assets-${AWS::AccountId}-${AWS::Region}:` + h + `"}
  },
  "Provider": {
   "Type": "AWS::Lambda::Function",
   "Properties": {"Code": {"S3Key": "` + h + `.zip"}},
   "Metadata": {"aws:asset:path": "asset.` + h + `.zip", "aws:asset:property": "Code"}
  },
  "Links": {
   "Type": "AWS::Lambda::Function",
   "Metadata": {"aws:asset:path": "asset.` + h + `", "aws:asset:dockerfile-path": "worker/Dockerfile",
    "aws:asset:docker-build-args": {"THUMBQ_COMMIT": "0123abcd+modified"}}
  }
 }
}`
	want := strings.Replace(in, ":"+h, ":<image-asset-hash>", 1)
	want = strings.Replace(want, `"asset.`+h+`", "aws:asset:dockerfile-path"`, `"asset.<image-asset-hash>", "aws:asset:dockerfile-path"`, 1)
	want = strings.Replace(want, `"0123abcd+modified"`, `"<worker-commit>"`, 1) + "\n" // CDK's own assets kept
	got, err := Normalize([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("Normalize =\n%s\nwant\n%s", got, want)
	}
	if _, err := Normalize([]byte("{")); err == nil {
		t.Error("Normalize(invalid JSON) succeeded; want an error")
	}
}
