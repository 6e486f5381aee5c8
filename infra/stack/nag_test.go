package stack

import (
	"encoding/csv"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// cdk-nag's AwsSolutions checks ran during the synth in TestMain: no finding may be left
// unsuppressed, and the suppressions are exactly the reviewed ones (a new one fails this test
// until it is added here, with its reason in the code).
func TestNagAwsSolutionsClean(t *testing.T) {
	wantSuppressed := []string{
		"AwsSolutions-ECS2 Worker/Task/Resource",
		"AwsSolutions-IAM4 Digest/Function/ServiceRole/Resource",
		"AwsSolutions-IAM4 Links/Function/ServiceRole/Resource",
		"AwsSolutions-IAM5 Links/Function/ServiceRole/DefaultPolicy/Resource",
		"AwsSolutions-IAM5 Worker/Task/ExecutionRole/DefaultPolicy/Resource",
		"AwsSolutions-IAM5 Worker/Task/TaskRole/DefaultPolicy/Resource",
		"AwsSolutions-SMG4 Links/Secret/Resource",
		"AwsSolutions-SQS3 Digest/Entries/Resource",
		"AwsSolutions-SQS3 Ingest/UndeliveredEvents/Resource",
	}
	eachEnv(t, func(t *testing.T, s *synthesized) {
		check(t, "cdk-nag errors", func() {
			s.annotations.HasNoError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
		})
		// No warning either, cdk-nag's or CDK's own (deprecated APIs, unset deployment settings, ...).
		check(t, "warnings", func() { s.annotations.HasNoWarning(jsii.String("*"), assertions.Match_AnyValue()) })

		rows, err := csv.NewReader(strings.NewReader(s.nagReport)).ReadAll()
		if err != nil {
			t.Fatalf("cdk-nag report: %v", err)
		}
		if len(rows) < 10 {
			t.Fatalf("cdk-nag report has %d rows: did the checks run?", len(rows))
		}
		suppressed := map[string]bool{}
		for _, r := range rows[1:] { // Rule ID, Resource ID, Compliance, Exception Reason, Rule Level, Rule Info
			rule, path, compliance, reason := r[0], strings.TrimPrefix(r[1], *s.stack.StackName()+"/"), r[2], r[3]
			switch compliance {
			case "Compliant":
			case "Suppressed":
				suppressed[rule+" "+path] = true
				if len(reason) < 20 {
					t.Errorf("%s on %s suppressed without a reason: %q", rule, path, reason)
				}
			default:
				t.Errorf("%s on %s: %s", rule, path, compliance)
			}
		}
		var got []string
		for k := range suppressed {
			got = append(got, k)
		}
		sort.Strings(got)
		if strings.Join(got, "\n") != strings.Join(wantSuppressed, "\n") {
			t.Errorf("cdk-nag suppressions:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantSuppressed, "\n"))
		}
	})
}
