package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/thumbq/thumbq/worker/digest"
)

// DigestProps configures Digest.
type DigestProps struct {
	Image        WorkerImage
	EmailTopic   awssns.ITopic // where the digests go: the email addresses subscribe to it
	LogRetention awslogs.RetentionDays
	Retain       bool
}

// Digest turns per-upload outcomes into email digests (see worker/digest): a queue the worker
// sends each outcome to, and the worker's image running `thumbq digest` as a Lambda function every
// minute, one invocation at a time (reserved concurrency 1: a single consumer across all tasks),
// which publishes one email per up to 200 uploads, at least 1 s apart.
type Digest struct {
	constructs.Construct
	queue awssqs.Queue
}

// NewDigest creates the queue, the function and its schedule.
func NewDigest(scope constructs.Construct, id string, props *DigestProps) *Digest {
	d := &Digest{Construct: constructs.NewConstruct(scope, jsii.String(id))}
	d.queue = awssqs.NewQueue(d.Construct, jsii.String("Entries"), &awssqs.QueueProps{
		Encryption:        awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		VisibilityTimeout: awscdk.Duration_Minutes(jsii.Number(2)), // the function's receive
		RetentionPeriod:   awscdk.Duration_Days(jsii.Number(4)),
		RemovalPolicy:     removalPolicy(props.Retain),
	})
	cdknag.NagSuppressions_AddResourceSuppressions(d.queue, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-SQS3"),
		Reason: jsii.String("No poison message is possible: an entry that cannot be read is listed as unreadable and " +
			"deleted with its digest; a dead-letter queue would only hide entries from the emails."),
	}}, jsii.Bool(false))

	fn := workerFunction{
		Cmd: "digest", Description: "thumbq email digest: drains the digest queue, at most 1 email per second",
		Timeout: awscdk.Duration_Minutes(jsii.Number(5)), Reserved: jsii.Number(1),
		Environment: map[string]*string{
			digest.EnvQueueURL: d.queue.QueueUrl(),
			digest.EnvTopicARN: props.EmailTopic.TopicArn(),
		},
		LogRetention: props.LogRetention, Retain: props.Retain, Image: props.Image,
	}.build(d.Construct)
	d.queue.GrantConsumeMessages(fn)
	grant(fn, props.EmailTopic.TopicArn(), "sns:Publish")
	awsevents.NewRule(d.Construct, jsii.String("EveryMinute"), &awsevents.RuleProps{
		Description: jsii.String("thumbq: publish the email digest"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(1))),
		Targets:     &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{RetryAttempts: jsii.Number(0)})},
	})
	cdknag.NagSuppressions_AddResourceSuppressions(fn, &[]*cdknag.NagPackSuppression{basicExecutionRole()}, jsii.Bool(true))
	return d
}

// Queue receives the worker's outcomes.
func (d *Digest) Queue() awssqs.IQueue { return d.queue }
