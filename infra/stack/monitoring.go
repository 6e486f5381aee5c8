package stack

import (
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// MonitoringProps configures Monitoring.
type MonitoringProps struct {
	Name               string // environment name, in the dashboard's title
	WorkQueue          awssqs.IQueue
	DeadLetterQueue    awssqs.IQueue
	UndeliveredEvents  awssqs.IQueue
	Cluster            awsecs.ICluster
	Service            awsecs.IBaseService
	WorkerErrors       awscloudwatch.IMetric
	OpsTopic           awssns.ITopic
	OldestMessageAlarm time.Duration
}

// Monitoring is the alarms (to the operations topic) and the dashboard.
type Monitoring struct {
	constructs.Construct
}

// NewMonitoring creates alarms for dead letters, undelivered events and the age of the oldest
// work-queue message, and a dashboard of queue depth, age, task count and worker errors.
func NewMonitoring(scope constructs.Construct, id string, props *MonitoringProps) *Monitoring {
	m := &Monitoring{Construct: constructs.NewConstruct(scope, jsii.String(id))}
	notify := awscloudwatchactions.NewSnsAction(props.OpsTopic)
	alarm := func(id, description string, metric awscloudwatch.Metric, threshold float64) {
		a := metric.CreateAlarm(m.Construct, jsii.String(id), &awscloudwatch.CreateAlarmOptions{
			AlarmDescription:   jsii.String(description),
			Threshold:          jsii.Number(threshold),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			EvaluationPeriods:  jsii.Number(1),
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(notify)
		a.AddOkAction(notify)
	}
	alarm("DeadLetters", "Messages in the dead-letter queue: bad uploads or repeated failures. "+
		"Inspect with `thumbq status`, move back with `thumbq redrive`.",
		props.DeadLetterQueue.MetricApproximateNumberOfMessagesVisible(maxPerMinute()), 0)
	alarm("UndeliveredEvents", "EventBridge could not deliver upload events to the work queue; they are in the undelivered-events queue.",
		props.UndeliveredEvents.MetricApproximateNumberOfMessagesVisible(maxPerMinute()), 0)
	alarm("OldestMessage", "The oldest work-queue message is older than the threshold: the worker is not keeping up or not running.",
		props.WorkQueue.MetricApproximateAgeOfOldestMessage(maxPerMinute()), props.OldestMessageAlarm.Seconds())

	tasks := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace:  jsii.String("ECS/ContainerInsights"),
		MetricName: jsii.String("RunningTaskCount"),
		DimensionsMap: &map[string]*string{
			"ClusterName": props.Cluster.ClusterName(),
			"ServiceName": props.Service.ServiceName(),
		},
		Statistic: jsii.String("Maximum"),
		Period:    awscdk.Duration_Minutes(jsii.Number(1)),
		Label:     jsii.String("Running tasks"),
	})
	graph := func(title string, metrics ...awscloudwatch.IMetric) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(title), Left: &metrics, Width: jsii.Number(12),
		})
	}
	awscloudwatch.NewDashboard(m.Construct, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		Widgets: &[]*[]awscloudwatch.IWidget{
			{
				graph("Queue depth",
					props.WorkQueue.MetricApproximateNumberOfMessagesVisible(maxPerMinute()),
					props.WorkQueue.MetricApproximateNumberOfMessagesNotVisible(maxPerMinute()),
					props.DeadLetterQueue.MetricApproximateNumberOfMessagesVisible(maxPerMinute()),
					props.UndeliveredEvents.MetricApproximateNumberOfMessagesVisible(maxPerMinute())),
				graph("Age of the oldest message (s)", props.WorkQueue.MetricApproximateAgeOfOldestMessage(maxPerMinute())),
			},
			{
				graph("Running tasks", tasks),
				graph("Worker errors", props.WorkerErrors),
			},
		},
	})
	return m
}
