package stack

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/thumbq/thumbq/worker/config"
	"github.com/thumbq/thumbq/worker/digest"
	"github.com/thumbq/thumbq/worker/link"
	"github.com/thumbq/thumbq/worker/metrics"
)

// queues returns the logical ids of the work queue, its dead-letter queue and the rule target's
// dead-letter queue, found by what they are, not by their generated names.
func (s *synthesized) queues(t *testing.T) (work, dead, undelivered string) {
	t.Helper()
	work = s.id(t, "AWS::SQS::Queue", m("RedrivePolicy", assertions.Match_AnyValue()))
	rp := s.resources("AWS::SQS::Queue")[work]["Properties"].(map[string]any)["RedrivePolicy"].(map[string]any)
	dead = rp["deadLetterTargetArn"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
	rule := s.id(t, "AWS::Events::Rule", m("EventPattern", assertions.Match_AnyValue()))
	target := s.resources("AWS::Events::Rule")[rule]["Properties"].(map[string]any)["Targets"].([]any)[0].(map[string]any)
	undelivered = target["DeadLetterConfig"].(map[string]any)["Arn"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
	return work, dead, undelivered
}

func (s *synthesized) buckets(t *testing.T) (source, thumbnails string) {
	t.Helper()
	source = s.id(t, "AWS::S3::Bucket", m("NotificationConfiguration", assertions.Match_AnyValue()))
	thumbnails = s.id(t, "AWS::S3::Bucket", m("LifecycleConfiguration", like("Rules", arrayWith(like("Id", "expire-thumbnails")))))
	return source, thumbnails
}

func TestStackNameCarriesTheEnvironment(t *testing.T) {
	eachEnv(t, func(t *testing.T, s *synthesized) {
		if got, want := *s.stack.StackName(), "thumbq-"+s.env.Name; got != want {
			t.Errorf("stack name = %q; want %q", got, want)
		}
	})
}

func TestWorkQueueRedrivesToDeadLetterQueueAfterTheWorkersMaxReceiveCount(t *testing.T) {
	eachEnv(t, func(t *testing.T, s *synthesized) {
		work, dead, _ := s.queues(t)
		check(t, "work queue", func() {
			s.template.HasResourceProperties(jsii.String("AWS::SQS::Queue"), m(
				"RedrivePolicy", m("deadLetterTargetArn", getAtt(dead, "Arn"), "maxReceiveCount", config.QueueMaxReceiveCount),
				"VisibilityTimeout", s.env.VisibilityTimeout.Seconds(),
				"ReceiveMessageWaitTimeSeconds", config.DefaultWaitTime.Seconds(),
				"SqsManagedSseEnabled", true,
			))
		})
		check(t, "dead-letter queue", func() {
			s.template.HasResource(jsii.String("AWS::SQS::Queue"), m("Properties", m(
				"MessageRetentionPeriod", 14*24*3600,
				"RedriveAllowPolicy", m("redrivePermission", "allowAll"),
				"SqsManagedSseEnabled", true,
			)))
		})
		if work == dead {
			t.Errorf("the work queue is its own dead-letter queue")
		}
	})
}

func TestWorkQueueVisibilityTimeoutIsWhatTheWorkerIsTold(t *testing.T) {
	eachEnv(t, func(t *testing.T, s *synthesized) {
		work, _, _ := s.queues(t)
		queueTimeout := s.resources("AWS::SQS::Queue")[work]["Properties"].(map[string]any)["VisibilityTimeout"].(float64)
		told, err := time.ParseDuration(s.containerEnv(t)[config.EnvVisibilityTimeout].(string))
		if err != nil {
			t.Fatalf("%s: %v", config.EnvVisibilityTimeout, err)
		}
		if told.Seconds() != queueTimeout {
			t.Errorf("worker told %s = %s; queue's visibility timeout is %vs", config.EnvVisibilityTimeout, told, queueTimeout)
		}
	})
}

func TestQueuesAreEncryptedSoEventBridgeCanWrite(t *testing.T) {
	eachEnv(t, func(t *testing.T, s *synthesized) {
		for id, q := range s.resources("AWS::SQS::Queue") {
			p := q["Properties"].(map[string]any)
			if p["SqsManagedSseEnabled"] != true {
				t.Errorf("queue %s: SqsManagedSseEnabled = %v; want true", id, p["SqsManagedSseEnabled"])
			}
			if _, kms := p["KmsMasterKeyId"]; kms {
				t.Errorf("queue %s has a KMS key: EventBridge cannot write to a queue under aws/sqs", id)
			}
		}
	})
}

func TestRuleSendsSourceBucketObjectCreatedEventsToWorkQueue(t *testing.T) {
	eachEnv(t, func(t *testing.T, s *synthesized) {
		work, _, undelivered := s.queues(t)
		source, _ := s.buckets(t)
		check(t, "rule", func() {
			s.template.HasResourceProperties(jsii.String("AWS::Events::Rule"), m(
				"State", "ENABLED",
				"EventPattern", assertions.Match_Exact(m(
					"source", []any{"aws.s3"},
					"detail-type", []any{"Object Created"},
					"detail", m("bucket", m("name", []any{ref(source)})),
				)),
				"Targets", assertions.Match_ArrayEquals(&[]any{like(
					"Arn", getAtt(work, "Arn"),
					"DeadLetterConfig", m("Arn", getAtt(undelivered, "Arn")),
					"RetryPolicy", m("MaximumRetryAttempts", 185, "MaximumEventAgeInSeconds", 86400),
				)}),
			))
		})
		check(t, "default bus", func() {
			s.template.HasResourceProperties(jsii.String("AWS::Events::Rule"), m("EventBusName", assertions.Match_Absent()))
		})
		// One rule on events (the digest's schedule aside).
		patterns := 0
		for _, r := range s.resources("AWS::Events::Rule") {
			if _, ok := r["Properties"].(map[string]any)["EventPattern"]; ok {
				patterns++
			}
		}
		if patterns != 1 {
			t.Errorf("%d rules on event patterns; want 1", patterns)
		}
	})
}

// The queue policies let EventBridge send only on behalf of the rule (aws:SourceArn), to the work
// queue and to the rule target's dead-letter queue; every other Allow is absent.
func TestQueuePoliciesAllowOnlyTheRule(t *testing.T) {
	eachEnv(t, func(t *testing.T, s *synthesized) {
		work, _, undelivered := s.queues(t)
		rule := s.id(t, "AWS::Events::Rule", m("EventPattern", assertions.Match_AnyValue()))
		covered := map[string]bool{}
		for id, p := range s.resources("AWS::SQS::QueuePolicy") {
			props := p["Properties"].(map[string]any)
			for _, q := range props["Queues"].([]any) {
				covered[q.(map[string]any)["Ref"].(string)] = true
			}
			for _, st := range props["PolicyDocument"].(map[string]any)["Statement"].([]any) {
				st := st.(map[string]any)
				if st["Effect"] != "Allow" {
					continue
				}
				want := m("ArnEquals", m("aws:SourceArn", getAtt(rule, "Arn")))
				if !jsonEqual(st["Condition"], want) || !jsonEqual(st["Principal"], m("Service", "events.amazonaws.com")) {
					t.Errorf("queue policy %s allows %v to %v under %v; want only events.amazonaws.com under %v",
						id, st["Action"], st["Principal"], st["Condition"], want)
				}
				actions := asList(st["Action"])
				for _, a := range actions {
					if a != "sqs:SendMessage" && a != "sqs:GetQueueAttributes" && a != "sqs:GetQueueUrl" {
						t.Errorf("queue policy %s allows %v; want only sqs:SendMessage, GetQueueAttributes, GetQueueUrl", id, a)
					}
				}
				if !slices.Contains(actions, any("sqs:SendMessage")) {
					t.Errorf("queue policy %s allows %v; want sqs:SendMessage among them", id, actions)
				}
			}
		}
		for _, q := range []string{work, undelivered} {
			if !covered[q] {
				t.Errorf("no queue policy for %s", q)
			}
		}
		check(t, "policy statement", func() {
			s.template.HasResourceProperties(jsii.String("AWS::SQS::QueuePolicy"), m(
				"Queues", []any{ref(work)},
				"PolicyDocument", like("Statement", arrayWith(like(
					"Effect", "Allow",
					"Principal", m("Service", "events.amazonaws.com"),
					"Condition", m("ArnEquals", m("aws:SourceArn", getAtt(rule, "Arn"))),
				))),
			))
		})
	})
}

func TestSourceBucketSendsEventsOnlyToEventBridge(t *testing.T) {
	eachEnv(t, func(t *testing.T, s *synthesized) {
		check(t, "notification configuration", func() {
			s.template.HasResourceProperties(jsii.String("AWS::S3::Bucket"), m(
				"NotificationConfiguration", assertions.Match_Exact(m("EventBridgeConfiguration", m("EventBridgeEnabled", true))),
			))
		})
		check(t, "no notification custom resource", func() {
			s.template.ResourceCountIs(jsii.String("Custom::S3BucketNotifications"), jsii.Number(0))
		})
	})
}

func TestBucketsArePrivateEncryptedAndSSLOnly(t *testing.T) {
	eachEnv(t, func(t *testing.T, s *synthesized) {
		buckets := s.resources("AWS::S3::Bucket")
		if len(buckets) != 3 {
			t.Errorf("%d buckets; want 3 (source, thumbnails, access logs)", len(buckets))
		}
		sslOnly := map[string]bool{}
		for _, p := range s.resources("AWS::S3::BucketPolicy") {
			props := p["Properties"].(map[string]any)
			for _, st := range props["PolicyDocument"].(map[string]any)["Statement"].([]any) {
				st := st.(map[string]any)
				if st["Effect"] == "Deny" && jsonEqual(st["Condition"], m("Bool", m("aws:SecureTransport", "false"))) {
					sslOnly[props["Bucket"].(map[string]any)["Ref"].(string)] = true
				}
			}
		}
		for id, b := range buckets {
			p := b["Properties"].(map[string]any)
			if want := m("BlockPublicAcls", true, "BlockPublicPolicy", true, "IgnorePublicAcls", true, "RestrictPublicBuckets", true); !jsonEqual(p["PublicAccessBlockConfiguration"], want) {
				t.Errorf("bucket %s: public access block %v; want %v", id, p["PublicAccessBlockConfiguration"], want)
			}
			if p["BucketEncryption"] == nil {
				t.Errorf("bucket %s: no encryption", id)
			}
			if !sslOnly[id] {
				t.Errorf("bucket %s: no policy denies requests without TLS", id)
			}
		}
	})
}

func TestThumbnailsExpireAfterTheEnvironmentsDays(t *testing.T) {
	eachEnv(t, func(t *testing.T, s *synthesized) {
		check(t, "lifecycle rule", func() {
			s.template.HasResourceProperties(jsii.String("AWS::S3::Bucket"), m(
				"LifecycleConfiguration", m("Rules", arrayWith(like(
					"Id", "expire-thumbnails",
					"ExpirationInDays", s.env.ThumbnailExpiryDays,
					"Status", "Enabled",
				))),
			))
		})
	})
}

func TestRemovalPolicies(t *testing.T) {
	eachEnv(t, func(t *testing.T, s *synthesized) {
		want := "Delete"
		if s.env.Retain {
			want = "Retain"
		}
		for _, typ := range []string{"AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::Logs::LogGroup"} {
			for id, r := range s.resources(typ) {
				if r["DeletionPolicy"] != want || r["UpdateReplacePolicy"] != want {
					t.Errorf("%s %s: DeletionPolicy %v, UpdateReplacePolicy %v; want %s", typ, id, r["DeletionPolicy"], r["UpdateReplacePolicy"], want)
				}
			}
		}
		// In dev, `cdk destroy` empties the buckets first (CDK's auto-delete-objects custom resource).
		autoDelete := len(s.resources("Custom::S3AutoDeleteObjects"))
		if s.env.Retain && autoDelete != 0 {
			t.Errorf("%d auto-delete-objects resources in a retained environment; want 0", autoDelete)
		}
		if !s.env.Retain && autoDelete != len(s.resources("AWS::S3::Bucket")) {
			t.Errorf("%d auto-delete-objects resources; want one per bucket", autoDelete)
		}
	})
	if !synth["prod"].env.Retain || synth["dev"].env.Retain {
		t.Error("want prod retained and dev destroyed with the stack")
	}
}

// containerEnv is the worker container's environment, by name.
func (s *synthesized) containerEnv(t *testing.T) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, v := range s.container(t)["Environment"].([]any) {
		v := v.(map[string]any)
		out[v["Name"].(string)] = v["Value"]
	}
	return out
}

func (s *synthesized) container(t *testing.T) map[string]any {
	t.Helper()
	td := s.id(t, "AWS::ECS::TaskDefinition", nil)
	cds := s.resources("AWS::ECS::TaskDefinition")[td]["Properties"].(map[string]any)["ContainerDefinitions"].([]any)
	if len(cds) != 1 {
		t.Fatalf("%d containers; want 1", len(cds))
	}
	return cds[0].(map[string]any)
}

func TestContainerGetsTheWorkersConfiguration(t *testing.T) {
	eachEnv(t, func(t *testing.T, s *synthesized) {
		env := s.containerEnv(t)
		work, dead, _ := s.queues(t)
		source, thumbnails := s.buckets(t)
		topic := s.id(t, "AWS::SNS::Topic", m("DisplayName", "thumbq thumbnails"))
		wantRefs := map[string]any{
			config.EnvSourceBucket:    ref(source),
			config.EnvThumbnailBucket: ref(thumbnails),
			config.EnvQueueURL:        ref(work),
			config.EnvDeadLetterURL:   ref(dead),
			config.EnvTopicARN:        ref(topic),
		}
		for _, v := range config.Variables() {
			if v.Required && env[v.Name] == nil {
				t.Errorf("container environment lacks %s, which the worker requires", v.Name)
			}
		}
		for name, want := range wantRefs {
			if !jsonEqual(env[name], want) {
				t.Errorf("%s = %v; want %v", name, env[name], want)
			}
		}
		// What the worker would make of it: the configuration the stack validated (workerConfig),
		// with the references in place of its placeholders.
		cfg, err := config.Load(func(name string) string {
			if s, ok := env[name].(string); ok {
				return s
			}
			if env[name] != nil {
				return "token-of-" + name // a reference, resolved at deploy time
			}
			return ""
		})
		if err != nil {
			t.Fatalf("the worker refuses the container's environment: %v", err)
		}
		want, err := s.env.loadWorkerConfig()
		if err != nil {
			t.Fatal(err)
		}
		want.SourceBucket, want.ThumbnailBucket = "token-of-"+config.EnvSourceBucket, "token-of-"+config.EnvThumbnailBucket
		want.QueueURL, want.DeadLetterURL = "token-of-"+config.EnvQueueURL, "token-of-"+config.EnvDeadLetterURL
		want.TopicARN = "token-of-" + config.EnvTopicARN
		if !reflect.DeepEqual(cfg, want) {
			t.Errorf("the worker reads\n%+v\nwant the configuration the stack validated\n%+v", cfg, want)
		}
	})
}

func TestContainerStopsAfterTheWorkersGracePeriod(t *testing.T) {
	eachEnv(t, func(t *testing.T, s *synthesized) {
		want := config.StopTimeout(s.env.GracePeriod).Seconds()
		check(t, "container", func() {
			s.template.HasResourceProperties(jsii.String("AWS::ECS::TaskDefinition"), m(
				"ContainerDefinitions", []any{like(
					"StopTimeout", want,
					"Command", []any{"work"},
					"ReadonlyRootFilesystem", true,
					"LogConfiguration", like("LogDriver", "awslogs"),
				)},
				"RuntimePlatform", m("CpuArchitecture", "ARM64", "OperatingSystemFamily", "LINUX"),
				"Cpu", fmt.Sprint(s.env.CPU),
				"Memory", fmt.Sprint(s.env.MemoryMiB),
			))
		})
	})
}

func TestLogsAreKeptForTheEnvironmentsRetention(t *testing.T) {
	eachEnv(t, func(t *testing.T, s *synthesized) {
		days := map[string]float64{"dev": 7, "prod": 90}[s.env.Name]
		check(t, "log group", func() {
			s.template.HasResourceProperties(jsii.String("AWS::Logs::LogGroup"), m("RetentionInDays", days))
		})
	})
}

// The task role may do what the worker does and nothing else.
func TestTaskRoleHasLeastPrivilege(t *testing.T) {
	eachEnv(t, func(t *testing.T, s *synthesized) {
		work, dead, _ := s.queues(t)
		source, thumbnails := s.buckets(t)
		topic := s.id(t, "AWS::SNS::Topic", m("DisplayName", "thumbq thumbnails"))
		td := s.id(t, "AWS::ECS::TaskDefinition", nil)
		role := s.resources("AWS::ECS::TaskDefinition")[td]["Properties"].(map[string]any)["TaskRoleArn"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)

		// resource (its logical id, "/*" for its objects) -> actions allowed on it
		got := map[string][]string{}
		for id, p := range s.resources("AWS::IAM::Policy") {
			props := p["Properties"].(map[string]any)
			if !jsonEqual(props["Roles"], []any{ref(role)}) {
				continue
			}
			for _, st := range props["PolicyDocument"].(map[string]any)["Statement"].([]any) {
				st := st.(map[string]any)
				if st["Effect"] != "Allow" {
					t.Errorf("policy %s: unexpected %v statement", id, st["Effect"])
				}
				for _, r := range asList(st["Resource"]) {
					key := resourceKey(r)
					for _, a := range asList(st["Action"]) {
						got[key] = append(got[key], a.(string))
					}
				}
			}
		}
		for k := range got {
			sort.Strings(got[k])
		}
		want := map[string][]string{
			source:                                 {"s3:ListBucket"},
			source + "/*":                          {"s3:GetObject"},
			thumbnails:                             {"s3:ListBucket"},
			s.byPath(t, "Digest/Entries/Resource"): {"sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"},
			thumbnails + "/*":                      {"s3:GetObject", "s3:PutObject"},
			thumbnails + "/" + config.MarkerPrefix + "*": {"s3:DeleteObject"},
			work:  {"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ReceiveMessage"},
			dead:  {"sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"},
			topic: {"sns:GetTopicAttributes", "sns:Publish"},
		}
		for k, w := range want {
			if !slices.Equal(got[k], w) {
				t.Errorf("task role on %s: %v; want %v", k, got[k], w)
			}
		}
		for k, a := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("task role on %s: %v; want nothing", k, a)
			}
		}
	})
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// resourceKey names a policy resource by the logical id it refers to: "<id>" for
// {"Fn::GetAtt": [id, "Arn"]} or {"Ref": id}, "<id>/*" for its objects, or the raw JSON.
func resourceKey(r any) string {
	switch v := r.(type) {
	case map[string]any:
		if ga, ok := v["Fn::GetAtt"].([]any); ok {
			return ga[0].(string)
		}
		if ref, ok := v["Ref"].(string); ok {
			return ref
		}
		if join, ok := v["Fn::Join"].([]any); ok {
			parts := join[1].([]any)
			if s, ok := parts[len(parts)-1].(string); len(parts) == 2 && ok && strings.HasPrefix(s, "/") && strings.HasSuffix(s, "*") {
				return resourceKey(parts[0]) + s
			}
		}
	}
	b, _ := json.Marshal(r)
	return string(b)
}

func TestServiceScalesOnBacklogPerTask(t *testing.T) {
	eachEnv(t, func(t *testing.T, s *synthesized) {
		work, _, _ := s.queues(t)
		check(t, "scalable target", func() {
			s.template.HasResourceProperties(jsii.String("AWS::ApplicationAutoScaling::ScalableTarget"), m(
				"MinCapacity", s.env.MinTasks,
				"MaxCapacity", s.env.MaxTasks,
				"ScalableDimension", "ecs:service:DesiredCount",
				"ServiceNamespace", "ecs",
			))
		})
		queue := m("Name", "QueueName", "Value", getAtt(work, "QueueName"))
		sqsQuery := func(id, metric string) assertions.Matcher {
			return like("Id", id, "ReturnData", false, "MetricStat", like("Stat", "Maximum",
				"Metric", m("Namespace", "AWS/SQS", "MetricName", metric, "Dimensions", []any{queue})))
		}
		check(t, "target tracking on backlog per task", func() {
			s.template.HasResourceProperties(jsii.String("AWS::ApplicationAutoScaling::ScalingPolicy"), m(
				"PolicyType", "TargetTrackingScaling",
				"TargetTrackingScalingPolicyConfiguration", like(
					"TargetValue", s.env.BacklogPerTask,
					"CustomizedMetricSpecification", m("Metrics", []any{
						sqsQuery("visible", "ApproximateNumberOfMessagesVisible"),
						sqsQuery("inflight", "ApproximateNumberOfMessagesNotVisible"),
						like("Id", "desired", "MetricStat", like("Metric", like("Namespace", "ECS/ContainerInsights", "MetricName", "DesiredTaskCount"))),
						m("Id", "perTask", "Expression", BacklogPerTaskExpression, "Label", "Backlog per task", "ReturnData", true),
					}),
				),
			))
		})
		steps := s.resources("AWS::ApplicationAutoScaling::ScalingPolicy")
		stepPolicies := 0
		for _, p := range steps {
			if p["Properties"].(map[string]any)["PolicyType"] == "StepScaling" {
				stepPolicies++
			}
		}
		if s.env.MinTasks > 0 {
			if stepPolicies != 0 {
				t.Errorf("%d step policies with a minimum of %d tasks; want none", stepPolicies, s.env.MinTasks)
			}
			return
		}
		// From zero: one step policy, exact capacity 1, on the backlog while no task is desired.
		if stepPolicies != 1 {
			t.Errorf("%d step policies; want 1 (0 -> 1)", stepPolicies)
		}
		check(t, "0 -> 1 step policy", func() {
			s.template.HasResourceProperties(jsii.String("AWS::ApplicationAutoScaling::ScalingPolicy"), m(
				"PolicyType", "StepScaling",
				"StepScalingPolicyConfiguration", like(
					"AdjustmentType", "ExactCapacity",
					"StepAdjustments", arrayWith(like("MetricIntervalLowerBound", 0, "ScalingAdjustment", 1)),
				),
			))
		})
		check(t, "its alarm watches the wake expression", func() {
			s.template.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), m(
				"Metrics", arrayWith(like("Expression", WakeExpression)),
				"Threshold", 1, "ComparisonOperator", "GreaterThanOrEqualToThreshold",
			))
		})
	})
}

func TestFailureAlarmsAreRateBasedAndNotifyWithOKActions(t *testing.T) {
	eachEnv(t, func(t *testing.T, s *synthesized) {
		work, dead, undelivered := s.queues(t)
		ops := s.id(t, "AWS::SNS::Topic", m("DisplayName", "thumbq alarms"))
		toOps := func(kv ...any) map[string]any {
			return m(append(kv, "AlarmActions", []any{ref(ops)}, "OKActions", []any{ref(ops)}, "TreatMissingData", "notBreaching")...)
		}
		arrivals := func(what, queue string) {
			check(t, what, func() {
				s.template.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), toOps(
					"Metrics", arrayWith(
						like("Expression", "MAX([sent, DIFF(depth)])", "ReturnData", true),
						like("Id", "depth", "MetricStat", like("Metric", like("MetricName", "ApproximateNumberOfMessagesVisible",
							"Dimensions", []any{m("Name", "QueueName", "Value", getAtt(queue, "QueueName"))}))),
						like("Id", "sent", "MetricStat", like("Period", 300, "Stat", "Sum", "Metric", like("MetricName", "NumberOfMessagesSent",
							"Dimensions", []any{m("Name", "QueueName", "Value", getAtt(queue, "QueueName"))}))),
					),
					"Threshold", 0, "ComparisonOperator", "GreaterThanThreshold", "EvaluationPeriods", 1,
				))
			})
		}
		arrivals("new dead letters", dead)
		arrivals("new undelivered events", undelivered)
		check(t, "worker errors", func() {
			s.template.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), toOps(
				"Metrics", []any{like("MetricStat", like("Stat", "Sum", "Metric", like("MetricName", "WorkerErrors", "Namespace", "thumbq/"+s.env.Name)))},
				"Threshold", 0, "ComparisonOperator", "GreaterThanThreshold",
			))
		})
		check(t, "crash loop: desired above running for 10 minutes", func() {
			s.template.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), toOps(
				"Metrics", arrayWith(like("Expression", "desired - running")),
				"Threshold", 0, "ComparisonOperator", "GreaterThanThreshold", "EvaluationPeriods", 10,
			))
		})
		check(t, "oldest message", func() {
			s.template.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), toOps(
				"Namespace", "AWS/SQS", "MetricName", "ApproximateAgeOfOldestMessage",
				"Dimensions", []any{m("Name", "QueueName", "Value", getAtt(work, "QueueName"))},
				"Threshold", s.env.OldestMessageAlarm.Seconds(),
			))
		})
		// No alarm on a queue's depth: it would stay in ALARM while a dead letter is kept (14 days).
		for id, a := range s.resources("AWS::CloudWatch::Alarm") {
			if a["Properties"].(map[string]any)["MetricName"] == "ApproximateNumberOfMessagesVisible" {
				t.Errorf("alarm %s is on a queue's depth", id)
			}
		}
	})
}

func TestEgressIsHTTPSOnlyAndTheDefaultSecurityGroupIsRestricted(t *testing.T) {
	eachEnv(t, func(t *testing.T, s *synthesized) {
		check(t, "egress 443 only", func() {
			s.template.HasResourceProperties(jsii.String("AWS::EC2::SecurityGroup"), m(
				"SecurityGroupEgress", []any{like("IpProtocol", "tcp", "FromPort", 443, "ToPort", 443, "CidrIp", "0.0.0.0/0")},
			))
		})
		for id, sg := range s.resources("AWS::EC2::SecurityGroup") {
			b, _ := json.Marshal(sg["Properties"].(map[string]any)["SecurityGroupEgress"])
			if strings.Contains(string(b), `"-1"`) {
				t.Errorf("security group %s allows all protocols out: %s", id, b)
			}
		}
		check(t, "default security group restricted", func() {
			s.template.ResourceCountIs(jsii.String("Custom::VpcRestrictDefaultSG"), jsii.Number(1))
		})
	})
}

func TestContainerRunsAsNonRootUser(t *testing.T) {
	eachEnv(t, func(t *testing.T, s *synthesized) {
		check(t, "user", func() {
			s.template.HasResourceProperties(jsii.String("AWS::ECS::TaskDefinition"), m(
				"ContainerDefinitions", []any{like("User", "65532:65532", "ReadonlyRootFilesystem", true)},
			))
		})
	})
}

func TestOutputsNameWhatAnOperatorNeeds(t *testing.T) {
	eachEnv(t, func(t *testing.T, s *synthesized) {
		outputs := s.json["Outputs"].(map[string]any)
		for _, name := range []string{OutputSourceBucket, OutputThumbnailBucket, OutputWorkQueueURL, OutputDeadLetterQueueURL,
			OutputUndeliveredURL, OutputTopicARN, OutputOpsTopicARN, OutputLogGroup, OutputDashboard} {
			if _, ok := outputs[name]; !ok {
				t.Errorf("no output %s", name)
			}
		}
		logs := s.byPath(t, "Worker/Logs/Resource")
		if got := outputs[OutputLogGroup].(map[string]any)["Value"]; !jsonEqual(got, ref(logs)) {
			t.Errorf("output %s = %v; want the worker's log group %s", OutputLogGroup, got, logs)
		}
		b, _ := json.Marshal(outputs[OutputDashboard])
		dash := s.id(t, "AWS::CloudWatch::Dashboard", nil)
		if !strings.Contains(string(b), "#dashboards:name=") || !strings.Contains(string(b), dash) {
			t.Errorf("output %s = %s; want a console link to %s", OutputDashboard, b, dash)
		}
	})
}

func TestDashboardShowsQueuesTasksAndErrors(t *testing.T) {
	eachEnv(t, func(t *testing.T, s *synthesized) {
		dashboards := s.resources("AWS::CloudWatch::Dashboard")
		if len(dashboards) != 1 {
			t.Fatalf("%d dashboards; want 1", len(dashboards))
		}
		for _, d := range dashboards {
			b, _ := json.Marshal(d)
			for _, metric := range []string{"ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesNotVisible",
				"ApproximateAgeOfOldestMessage", "RunningTaskCount", "DesiredTaskCount", "WorkerErrors",
				`\"` + MetricsNamespace + `\",\"Processed`, "Failed", "Latency", "DecodeTime", "SourceBytes", "MemoryWaits"} {
				if !strings.Contains(string(b), metric) {
					t.Errorf("dashboard lacks %s", metric)
				}
			}
		}
		check(t, "error metric filter", func() {
			s.template.HasResourceProperties(jsii.String("AWS::Logs::MetricFilter"), m(
				"FilterPattern", `{ $.level = "ERROR" }`,
				"MetricTransformations", []any{like("MetricName", "WorkerErrors", "MetricNamespace", "thumbq/"+s.env.Name)},
			))
		})
	})
}

func TestNetworkHasNoNATGateway(t *testing.T) {
	eachEnv(t, func(t *testing.T, s *synthesized) {
		check(t, "no NAT gateway", func() { s.template.ResourceCountIs(jsii.String("AWS::EC2::NatGateway"), jsii.Number(0)) })
		check(t, "S3 gateway endpoint", func() {
			s.template.HasResourceProperties(jsii.String("AWS::EC2::VPCEndpoint"), m("VpcEndpointType", "Gateway"))
		})
		check(t, "tasks in public subnets with a public IP", func() {
			s.template.HasResourceProperties(jsii.String("AWS::ECS::Service"), m(
				"LaunchType", "FARGATE",
				"NetworkConfiguration", m("AwsvpcConfiguration", like("AssignPublicIp", "ENABLED")),
				"DeploymentConfiguration", like("DeploymentCircuitBreaker", m("Enable", true, "Rollback", true)),
			))
		})
		check(t, "no inbound rule", func() {
			s.template.HasResourceProperties(jsii.String("AWS::EC2::SecurityGroup"), m("SecurityGroupIngress", assertions.Match_Absent()))
		})
	})
}

// byPath is the logical id of the resource at this construct path below the stack.
func (s *synthesized) byPath(t *testing.T, path string) string {
	t.Helper()
	for id, r := range s.json["Resources"].(map[string]any) {
		if md, ok := r.(map[string]any)["Metadata"].(map[string]any); ok && md["aws:cdk:path"] == *s.stack.StackName()+"/"+path {
			return id
		}
	}
	t.Fatalf("no resource at %s", path)
	return ""
}

func TestEmailAddressesGetADigestAtMostOncePerSecond(t *testing.T) {
	eachEnv(t, func(t *testing.T, s *synthesized) {
		if !s.env.EmailDigest {
			t.Skip("per-upload email in this environment")
		}
		entries := s.byPath(t, "Digest/Entries/Resource")
		topic := s.id(t, "AWS::SNS::Topic", m("DisplayName", "thumbq digests"))
		check(t, "one digest function at a time, the worker's image running thumbq digest", func() {
			s.template.HasResourceProperties(jsii.String("AWS::Lambda::Function"), m(
				"ImageConfig", m("Command", []any{"digest"}),
				"ReservedConcurrentExecutions", 1,
				"Environment", m("Variables", m(digest.EnvQueueURL, ref(entries), digest.EnvTopicARN, ref(topic))),
			))
		})
		check(t, "every minute", func() {
			s.template.HasResourceProperties(jsii.String("AWS::Events::Rule"), m("ScheduleExpression", "rate(1 minute)"))
		})
		if got := s.containerEnv(t)[digest.EnvQueueURL]; !jsonEqual(got, ref(entries)) {
			t.Errorf("container %s = %v; want the digest queue", digest.EnvQueueURL, got)
		}
	})
}

func TestWorkerMetricsCarryTheStackName(t *testing.T) {
	eachEnv(t, func(t *testing.T, s *synthesized) {
		if got := s.containerEnv(t)[metrics.EnvStack]; !jsonEqual(got, ref("AWS::StackName")) {
			t.Errorf("container %s = %v; want the stack's name (the dashboard's dimension)", metrics.EnvStack, got)
		}
	})
}

func TestLinkEndpointServesLongLivedLinks(t *testing.T) {
	eachEnv(t, func(t *testing.T, s *synthesized) {
		_, thumbnails := s.buckets(t)
		fn := s.byPath(t, "Links/Function/Resource")
		secret := s.byPath(t, "Links/Secret/Resource")
		check(t, "the worker's image as an ARM64 function running thumbq link", func() {
			s.template.HasResourceProperties(jsii.String("AWS::Lambda::Function"), m(
				"PackageType", "Image",
				"Architectures", []any{"arm64"},
				"ImageConfig", m("Command", []any{"link"}),
				"Environment", m("Variables", m(config.EnvThumbnailBucket, ref(thumbnails), link.EnvSecretARN, ref(secret))),
			))
		})
		check(t, "a generated secret", func() {
			s.template.HasResourceProperties(jsii.String("AWS::SecretsManager::Secret"), m(
				"GenerateSecretString", like("PasswordLength", 64, "ExcludePunctuation", true)))
		})
		check(t, "a function URL", func() {
			s.template.HasResourceProperties(jsii.String("AWS::Lambda::Url"), m("AuthType", "NONE", "TargetFunctionArn", getAtt(fn, "Arn")))
		})
		url := s.id(t, "AWS::Lambda::Url", nil)
		if got := s.containerEnv(t)[link.EnvBaseURL]; !jsonEqual(got, getAtt(url, "FunctionUrl")) {
			t.Errorf("container %s = %v; want the function URL", link.EnvBaseURL, got)
		}
		check(t, "the worker gets the secret from Secrets Manager, not in its environment", func() {
			s.template.HasResourceProperties(jsii.String("AWS::ECS::TaskDefinition"), m(
				"ContainerDefinitions", []any{like("Secrets", []any{m("Name", link.EnvSecret, "ValueFrom", ref(secret))})}))
		})
		if got := s.json["Outputs"].(map[string]any)[OutputLinkEndpoint].(map[string]any)["Value"]; !jsonEqual(got, getAtt(url, "FunctionUrl")) {
			t.Errorf("output %s = %v; want the function URL", OutputLinkEndpoint, got)
		}
	})
}

func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
