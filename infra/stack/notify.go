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
	NotifyEmails []string // subscribed to the thumbnail notifications
	OpsEmails    []string // subscribed to the alarms
}

// Notifications is the two SNS topics: one for users (a link to each new thumbnail), one for
// operations (alarms).
type Notifications struct {
	constructs.Construct
	topic, ops awssns.Topic
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
	for _, addr := range props.NotifyEmails {
		n.topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(addr), nil))
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

// OpsTopic receives the alarms.
func (n *Notifications) OpsTopic() awssns.ITopic { return n.ops }
