package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// StorageProps configures Storage.
type StorageProps struct {
	Retain              bool // keep the buckets and their objects when the stack is destroyed
	ThumbnailExpiryDays int
	LogExpiryDays       int // server access logs and VPC flow logs
}

// Storage is the pipeline's buckets: uploads, thumbnails and the logs about them.
type Storage struct {
	constructs.Construct
	source, thumbnails, logs awss3.Bucket
}

// NewStorage creates the source bucket (EventBridge notifications on, nothing else subscribed),
// the thumbnail bucket (with its own expiry) and the bucket their access logs go to. All block
// public access, encrypt at rest (SSE-S3) and refuse requests without TLS.
func NewStorage(scope constructs.Construct, id string, props *StorageProps) *Storage {
	s := &Storage{Construct: constructs.NewConstruct(scope, jsii.String(id))}

	// The log bucket logs nothing itself (that would loop); cdk-nag counts it as compliant.
	s.logs = newBucket(s.Construct, "AccessLogs", props.Retain, &awss3.BucketProps{
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:         jsii.String("expire-logs"),
			Expiration: awscdk.Duration_Days(jsii.Number(props.LogExpiryDays)),
		}},
	})

	s.source = newBucket(s.Construct, "SourceBucket", props.Retain, &awss3.BucketProps{
		ServerAccessLogsBucket: s.logs,
		ServerAccessLogsPrefix: jsii.String("source/"),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("abort-incomplete-uploads"),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
		}},
	})
	// EventBridge notifications set on the bucket itself (NotificationConfiguration), not through
	// the eventBridgeEnabled prop, which adds a custom-resource Lambda to do the same. No other
	// notification (SNS, SQS, Lambda) is configured: the EventBridge rule is the only consumer.
	s.source.Node().DefaultChild().(awss3.CfnBucket).SetNotificationConfiguration(&awss3.CfnBucket_NotificationConfigurationProperty{
		EventBridgeConfiguration: &awss3.CfnBucket_EventBridgeConfigurationProperty{EventBridgeEnabled: jsii.Bool(true)},
	})

	s.thumbnails = newBucket(s.Construct, "ThumbnailBucket", props.Retain, &awss3.BucketProps{
		ServerAccessLogsBucket: s.logs,
		ServerAccessLogsPrefix: jsii.String("thumbnails/"),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("expire-thumbnails"),
			Expiration:                          awscdk.Duration_Days(jsii.Number(props.ThumbnailExpiryDays)),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
		}},
	})
	return s
}

// newBucket fills in what every bucket of the stack has in common.
func newBucket(scope constructs.Construct, id string, retain bool, props *awss3.BucketProps) awss3.Bucket {
	props.BlockPublicAccess = awss3.BlockPublicAccess_BLOCK_ALL()
	props.Encryption = awss3.BucketEncryption_S3_MANAGED
	props.EnforceSSL = jsii.Bool(true)
	props.ObjectOwnership = awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED
	if retain {
		props.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	} else {
		props.RemovalPolicy = awscdk.RemovalPolicy_DESTROY
		props.AutoDeleteObjects = jsii.Bool(true) // so that `cdk destroy` leaves nothing behind
	}
	return awss3.NewBucket(scope, jsii.String(id), props)
}

// SourceBucket is where uploads land.
func (s *Storage) SourceBucket() awss3.IBucket { return s.source }

// ThumbnailBucket is where the worker writes thumbnails.
func (s *Storage) ThumbnailBucket() awss3.IBucket { return s.thumbnails }

// LogBucket receives the buckets' access logs and the VPC's flow logs.
func (s *Storage) LogBucket() awss3.IBucket { return s.logs }
