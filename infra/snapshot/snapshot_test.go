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
   "Properties": {"Image": "123.dkr.ecr/cdk-assets:` + h + `", "Short": "` + h[:40] + `"}
  }
 }
}`
	want := strings.Replace(in, h+`"`, `<asset-hash>"`, 1) + "\n"
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
