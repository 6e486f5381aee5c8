package snapshot

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	h := strings.Repeat("ab12", 16)
	in := `{"Resources":{
	  "CDKMetadata":{"Type":"AWS::CDK::Metadata","Metadata":{"aws:cdk:path":"s/CDKMetadata/Default"}},
	  "Task":{"Type":"AWS::ECS::TaskDefinition","Metadata":{"aws:cdk:path":"s/Task","keep":1},
	          "Properties":{"Image":"123.dkr.ecr/cdk-assets:` + h + `"}},
	  "Q":{"Type":"AWS::SQS::Queue","Metadata":{"aws:cdk:path":"s/Q","aws:asset:path":"x"}}},
	 "Conditions":{"CDKMetadataAvailable":{"Fn::Or":[]}}}`
	got, err := Normalize([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := `{
 "Resources": {
  "Q": {
   "Type": "AWS::SQS::Queue"
  },
  "Task": {
   "Metadata": {
    "keep": 1
   },
   "Properties": {
    "Image": "123.dkr.ecr/cdk-assets:<asset-hash>"
   },
   "Type": "AWS::ECS::TaskDefinition"
  }
 }
}
`
	if string(got) != want {
		t.Errorf("Normalize =\n%s\nwant\n%s", got, want)
	}
	if _, err := Normalize([]byte("{")); err == nil {
		t.Error("Normalize(invalid JSON) succeeded; want an error")
	}
}
