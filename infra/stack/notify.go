package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// NotificationsProps configures Notifications.
type NotificationsProps struct {
	NotifyEmails []string // subscribed to the thumbnail notifications (or to the digests)
	OpsEmails    []string // subscribed to the alarms
	// EmailDigest subscribes NotifyEmails to the digest topic (one email per minute or per 200
	// uploads, at most 1 per second) instead of the per-upload topic, which SNS would suspend
	// them from during a bulk upload (more than 10 emails per second).
	EmailDigest bool
}

// Notifications is the two SNS topics: one for users (a link to each new thumbnail), one for
// operations (alarms).
type Notifications struct {
	constructs.Construct
	topic, ops, digest awssns.Topic
}

// NewNotifications creates the topics and their email subscriptions.
func NewNotifications(scope constructs.Construct, id string, props *NotificationsProps) *Notifications {
	n := &Notifications{Construct: constructs.NewConstruct(scope, jsii.String(id))}

	// The messages carry presigned links (bearer credentials for a while): encrypted at rest with
	// the AWS-managed SNS key, which the worker, a principal of this account, may use.
	n.topic = awssns.NewTopic(n.Construct, jsii.String("Topic"), &awssns.TopicProps{
		DisplayName: jsii.String("thumbq thumbnails"),
		EnforceSSL:  jsii.Bool(true),
		MasterKey:   awskms.Alias_FromAliasName(n.Construct, jsii.String("SnsKey"), jsii.String("alias/aws/sns")),
	})
	emails := n.topic
	if props.EmailDigest {
		n.digest = awssns.NewTopic(n.Construct, jsii.String("DigestTopic"), &awssns.TopicProps{
			DisplayName: jsii.String("thumbq digests"),
			EnforceSSL:  jsii.Bool(true),
			MasterKey:   awskms.Alias_FromAliasName(n.Construct, jsii.String("DigestKey"), jsii.String("alias/aws/sns")),
		})
		emails = n.digest
	}
	for _, addr := range props.NotifyEmails {
		emails.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(addr), nil))
	}

	// Not encrypted: CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed
	// aws/sns key, and alarm messages (name, metric, threshold) do not justify a customer-managed key.
	n.ops = awssns.NewTopic(n.Construct, jsii.String("OpsTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("thumbq alarms"),
		EnforceSSL:  jsii.Bool(true),
	})
	// CloudWatch alarms of this account may publish to it.
	n.ops.GrantPublish(awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), &awsiam.ServicePrincipalOpts{
		Conditions: &map[string]interface{}{
			"StringEquals": map[string]interface{}{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
		},
	}))
	for _, addr := range props.OpsEmails {
		n.ops.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(addr), nil))
	}
	return n
}

// Topic receives a message with a presigned link for each thumbnail.
func (n *Notifications) Topic() awssns.ITopic { return n.topic }

// DigestTopic receives the email digests; nil without EmailDigest.
func (n *Notifications) DigestTopic() awssns.ITopic {
	if n.digest == nil {
		return nil
	}
	return n.digest
}

// OpsTopic receives the alarms.
func (n *Notifications) OpsTopic() awssns.ITopic { return n.ops }
