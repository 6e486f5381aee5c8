// Package stack is thumbq's CDK stack: uploads to an S3 bucket become EventBridge events on an SQS
// work queue, which a Fargate service consumes; thumbnails go to a second bucket and a link to each
// to an SNS topic. Each concern is a construct: Storage, Ingest, Notifications, Network, Worker,
// Monitoring; the settings that differ between environments are an Environment, checked at synth
// time against the worker's own bounds (worker/config).
package stack

import (
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// ThumbnailStackProps configures the stack.
type ThumbnailStackProps struct {
	awscdk.StackProps
	Env Environment

	// Image is where the worker's image is built from, and the commit it reports.
	Image WorkerImage
}

// NewThumbnailStack creates the whole pipeline for one environment.
func NewThumbnailStack(scope constructs.Construct, id string, props *ThumbnailStackProps) awscdk.Stack {
	stack := newTaggedStack(scope, id, props)
	env := props.Env

	storage := NewStorage(stack, "Storage", &StorageProps{
		Retain:              env.Retain,
		ThumbnailExpiryDays: env.ThumbnailExpiryDays,
		LogExpiryDays:       env.LogExpiryDays,
	})
	ingest := NewIngest(stack, "Ingest", &IngestProps{
		SourceBucket:      storage.SourceBucket(),
		VisibilityTimeout: env.VisibilityTimeout,
		Retain:            env.Retain,
	})
	notes := NewNotifications(stack, "Notifications", &NotificationsProps{
		NotifyEmails: env.NotifyEmails,
		OpsEmails:    env.OpsEmails,
		EmailDigest:  env.EmailDigest,
	})
	dig := newEmailDigest(stack, props, notes)
	links := NewLinks(stack, "Links", &LinksProps{
		Image:           props.Image,
		ThumbnailBucket: storage.ThumbnailBucket(),
		LogRetention:    env.LogRetention,
		Retain:          env.Retain,
	})
	network := NewNetwork(stack, "Network", &NetworkProps{FlowLogBucket: storage.LogBucket()})
	worker := NewWorker(stack, "Worker", &WorkerProps{
		Env:             env,
		Image:           props.Image,
		Vpc:             network.Vpc(),
		SourceBucket:    storage.SourceBucket(),
		ThumbnailBucket: storage.ThumbnailBucket(),
		WorkQueue:       ingest.WorkQueue(),
		DeadLetterQueue: ingest.DeadLetterQueue(),
		Topic:           notes.Topic(),
		Links:           links,
		Digest:          dig,
	})
	monitoring := NewMonitoring(stack, "Monitoring", &MonitoringProps{
		Name:               env.Name,
		WorkQueue:          ingest.WorkQueue(),
		DeadLetterQueue:    ingest.DeadLetterQueue(),
		UndeliveredEvents:  ingest.UndeliveredEvents(),
		Cluster:            worker.Cluster(),
		Service:            worker.Service(),
		WorkerErrors:       worker.Errors(),
		OpsTopic:           notes.OpsTopic(),
		OldestMessageAlarm: env.OldestMessageAlarm,
	})

	addOutputs(stack, storage, ingest, notes, worker, monitoring, links, dig)
	return stack
}

// newTaggedStack creates the stack, named and described after the environment unless props say
// otherwise, with its resources tagged app=thumbq and env=<name>.
func newTaggedStack(scope constructs.Construct, id string, props *ThumbnailStackProps) awscdk.Stack {
	sprops := props.StackProps
	if sprops.StackName == nil {
		sprops.StackName = jsii.String(props.Env.StackName())
	}
	if sprops.Description == nil {
		sprops.Description = jsii.String("thumbq (" + props.Env.Name + "): S3 uploads -> EventBridge -> SQS -> Fargate worker -> thumbnails, SNS")
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &sprops)
	// Not on dashboards: AWS::CloudWatch::Dashboard takes no Tags (cfn-lint E3002).
	untaggable := &awscdk.TagProps{ExcludeResourceTypes: jsii.Strings("AWS::CloudWatch::Dashboard")}
	awscdk.Tags_Of(stack).Add(jsii.String("app"), jsii.String("thumbq"), untaggable)
	awscdk.Tags_Of(stack).Add(jsii.String("env"), jsii.String(props.Env.Name), untaggable)
	return stack
}

// newEmailDigest creates the digest when the environment asks for one (EmailDigest); nil otherwise.
func newEmailDigest(stack awscdk.Stack, props *ThumbnailStackProps, notes *Notifications) *Digest {
	if !props.Env.EmailDigest {
		return nil
	}
	return NewDigest(stack, "Digest", &DigestProps{
		Image:        props.Image,
		EmailTopic:   notes.DigestTopic(),
		LogRetention: props.Env.LogRetention,
		Retain:       props.Env.Retain,
	})
}

// Output names of the stack: what an operator (and the moto end-to-end test) configures a worker
// or a client from.
const (
	OutputSourceBucket       = "SourceBucketName"
	OutputThumbnailBucket    = "ThumbnailBucketName"
	OutputWorkQueueURL       = "WorkQueueUrl"
	OutputDeadLetterQueueURL = "DeadLetterQueueUrl"
	OutputUndeliveredURL     = "UndeliveredEventsQueueUrl"
	OutputTopicARN           = "TopicArn"
	OutputOpsTopicARN        = "OpsTopicArn"
	OutputLogGroup           = "LogGroupName"
	OutputDashboard          = "DashboardUrl"
	OutputLinkEndpoint       = "LinkEndpointUrl"
	OutputLinkSecretARN      = "LinkSecretArn"
	OutputDigestQueueURL     = "DigestQueueUrl" // with the email digest only
	OutputDigestTopicARN     = "DigestTopicArn" // with the email digest only
)

// addOutputs shows the names a user needs after a deploy: where to upload, where the thumbnails
// go, the queues, the topics, the worker's logs and the dashboard.
func addOutputs(stack awscdk.Stack, storage *Storage, ingest *Ingest, notes *Notifications, worker *Worker, monitoring *Monitoring, links *Links, dig *Digest) {
	outputs := map[string]*string{
		OutputSourceBucket:       storage.SourceBucket().BucketName(),
		OutputThumbnailBucket:    storage.ThumbnailBucket().BucketName(),
		OutputWorkQueueURL:       ingest.WorkQueue().QueueUrl(),
		OutputDeadLetterQueueURL: ingest.DeadLetterQueue().QueueUrl(),
		OutputUndeliveredURL:     ingest.UndeliveredEvents().QueueUrl(),
		OutputTopicARN:           notes.Topic().TopicArn(),
		OutputOpsTopicARN:        notes.OpsTopic().TopicArn(),
		OutputLogGroup:           worker.Logs().LogGroupName(),
		OutputLinkEndpoint:       links.URL(),
		OutputLinkSecretARN:      links.Secret().SecretArn(),
		OutputDashboard: awscdk.Fn_Join(jsii.String(""), &[]*string{
			jsii.String("https://console.aws.amazon.com/cloudwatch/home?region="), awscdk.Aws_REGION(),
			jsii.String("#dashboards:name="), monitoring.Dashboard().DashboardName(),
		}),
	}
	if dig != nil {
		outputs[OutputDigestQueueURL] = dig.Queue().QueueUrl()
		outputs[OutputDigestTopicARN] = notes.DigestTopic().TopicArn()
	}
	for _, name := range slices.Sorted(maps.Keys(outputs)) { // a fixed order: a stable template
		awscdk.NewCfnOutput(stack, jsii.String(name), &awscdk.CfnOutputProps{Value: outputs[name]})
	}
}

// removalPolicy is what happens to a stateful resource when the stack is destroyed.
func removalPolicy(retain bool) awscdk.RemovalPolicy {
	if retain {
		return awscdk.RemovalPolicy_RETAIN
	}
	return awscdk.RemovalPolicy_DESTROY
}

// seconds is a duration as CDK takes it, in seconds.
func seconds(d time.Duration) awscdk.Duration {
	return awscdk.Duration_Seconds(jsii.Number(d.Seconds()))
}

// maxPerMinute is the statistic of the queue metrics that scaling and the alarms watch.
func maxPerMinute() *awscloudwatch.MetricOptions {
	return &awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum"), Period: awscdk.Duration_Minutes(jsii.Number(1))}
}
