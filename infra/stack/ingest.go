package stack

import (
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/thumbq/thumbq/worker/config"
)

// IngestProps configures Ingest.
type IngestProps struct {
	SourceBucket      awss3.IBucket
	VisibilityTimeout time.Duration // the worker's processing budget, the value it is told
	Retain            bool          // keep the queues when the stack is destroyed
}

// Ingest carries "Object Created" events from the source bucket to the work queue: an EventBridge
// rule, the work queue with its dead-letter queue, and the rule target's own dead-letter queue.
type Ingest struct {
	constructs.Construct
	rule                    awsevents.Rule
	work, dead, undelivered awssqs.Queue
}

// NewIngest creates the queues and the rule. Every queue is encrypted with SSE-SQS (EventBridge
// cannot write to a queue encrypted with the aws/sqs KMS key: its deliveries would be dropped)
// and refuses requests without TLS.
func NewIngest(scope constructs.Construct, id string, props *IngestProps) *Ingest {
	in := &Ingest{Construct: constructs.NewConstruct(scope, jsii.String(id))}
	in.addQueues(props.VisibilityTimeout, removalPolicy(props.Retain))
	in.addRule(props.SourceBucket)
	return in
}

// addQueues creates the work queue, its dead-letter queue and the queue of undelivered events.
func (in *Ingest) addQueues(visibilityTimeout time.Duration, removal awscdk.RemovalPolicy) {
	in.dead = awssqs.NewQueue(in.Construct, jsii.String("DeadLetterQueue"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
		// Any queue of this account may name it as its dead-letter queue, and its messages may be
		// redriven to their source queue (console, StartMessageMoveTask, `thumbq redrive`). byQueue
		// would need the work queue's ARN here, and the work queue already needs this queue's ARN:
		// a cycle CloudFormation cannot create, short of naming the work queue by hand.
		RedriveAllowPolicy: &awssqs.RedriveAllowPolicy{RedrivePermission: awssqs.RedrivePermission_ALLOW_ALL},
		RemovalPolicy:      removal,
	})

	in.work = awssqs.NewQueue(in.Construct, jsii.String("WorkQueue"), &awssqs.QueueProps{
		Encryption:             awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:             jsii.Bool(true),
		VisibilityTimeout:      seconds(visibilityTimeout),
		ReceiveMessageWaitTime: seconds(config.DefaultWaitTime), // the worker's long poll
		RetentionPeriod:        awscdk.Duration_Days(jsii.Number(4)),
		DeadLetterQueue:        &awssqs.DeadLetterQueue{Queue: in.dead, MaxReceiveCount: jsii.Number(config.QueueMaxReceiveCount)},
		RemovalPolicy:          removal,
	})

	// Events EventBridge could not deliver to the work queue (after its retries) land here.
	in.undelivered = awssqs.NewQueue(in.Construct, jsii.String("UndeliveredEvents"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
		RemovalPolicy:   removal,
	})
	cdknag.NagSuppressions_AddResourceSuppressions(in.undelivered, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SQS3"),
		Reason: jsii.String("This queue is itself a dead-letter queue: the EventBridge rule target's (EventBridge refers to it in the target, not in an SQS redrive policy)."),
	}}, jsii.Bool(false))
}

// addRule creates the rule that sends the source bucket's "Object Created" events to the work
// queue, and those it could not deliver to the undelivered-events queue.
func (in *Ingest) addRule(source awss3.IBucket) {
	in.rule = awsevents.NewRule(in.Construct, jsii.String("ObjectCreated"), &awsevents.RuleProps{
		Description: jsii.String("S3 Object Created events of the source bucket, to the work queue"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.s3"),
			DetailType: jsii.Strings("Object Created"),
			Detail: &map[string]interface{}{
				"bucket": map[string]interface{}{"name": []interface{}{source.BucketName()}},
			},
		},
	})
	// The target adds the queue policy statement that lets events.amazonaws.com send to the queue
	// only on behalf of this rule (aws:SourceArn), and the same for the undelivered-events queue.
	in.rule.AddTarget(awseventstargets.NewSqsQueue(in.work, &awseventstargets.SqsQueueProps{
		DeadLetterQueue: in.undelivered,
		RetryAttempts:   jsii.Number(185),
		MaxEventAge:     awscdk.Duration_Hours(jsii.Number(24)),
	}))
}

// WorkQueue is the queue the worker consumes.
func (in *Ingest) WorkQueue() awssqs.IQueue { return in.work }

// DeadLetterQueue receives work-queue messages after config.QueueMaxReceiveCount receives (the worker
// itself dead-letters, with the reason, on config.MaxReceiveCount), and bad uploads
// the worker sends there directly.
func (in *Ingest) DeadLetterQueue() awssqs.IQueue { return in.dead }

// UndeliveredEvents receives events EventBridge could not deliver to the work queue.
func (in *Ingest) UndeliveredEvents() awssqs.IQueue { return in.undelivered }
