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

	"github.com/thumbq/thumbq/worker/metrics"
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
	dashboard awscloudwatch.Dashboard
}

// Alarm periods. A failure alarm fires on what happened in one period and returns to OK in the
// next quiet one, so every later failure rings again (an alarm on a queue's depth would stay in
// ALARM for the 14 days a dead letter is kept, and stay silent).
const (
	failurePeriod    = 5 * time.Minute
	crashLoopMinutes = 10
)

// NewMonitoring creates the alarms, each with its OK action, and the dashboard:
//   - new dead letters per period: the worker's sends (NumberOfMessagesSent) or SQS's own redrives
//     (a rise of the depth, which NumberOfMessagesSent does not count), whichever is larger;
//   - new undelivered events per period, the same way;
//   - worker errors (log lines at level ERROR) per period;
//   - fewer tasks running than desired for 10 minutes: a crash loop, or tasks that cannot start;
//   - the age of the oldest work-queue message.
func NewMonitoring(scope constructs.Construct, id string, props *MonitoringProps) *Monitoring {
	m := &Monitoring{Construct: constructs.NewConstruct(scope, jsii.String(id))}
	m.addAlarms(props)
	m.dashboard = m.newDashboard(props)
	return m
}

// addAlarms creates the alarms, each notifying the ops topic when it fires and when it is OK again.
func (m *Monitoring) addAlarms(props *MonitoringProps) {
	notify := awscloudwatchactions.NewSnsAction(props.OpsTopic)
	alarm := func(id, description string, metric awscloudwatch.IMetric, threshold float64, periods int) {
		a := awscloudwatch.NewAlarm(m.Construct, jsii.String(id), &awscloudwatch.AlarmProps{
			Metric:             metric,
			AlarmDescription:   jsii.String(description),
			Threshold:          jsii.Number(threshold),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			EvaluationPeriods:  jsii.Number(periods),
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(notify)
		a.AddOkAction(notify)
	}
	alarm("NewDeadLetters", "New messages in the dead-letter queue in the last 5 minutes: bad uploads or repeated failures. "+
		"Inspect with `thumbq status`, move back with `thumbq redrive`. Returns to OK after a quiet period, so each new batch rings.",
		arrivals(props.DeadLetterQueue, "Dead letters"), 0, 1)
	alarm("NewUndeliveredEvents", "EventBridge could not deliver upload events to the work queue in the last 5 minutes; they are in the undelivered-events queue.",
		arrivals(props.UndeliveredEvents, "Undelivered events"), 0, 1)
	alarm("WorkerErrors", "The worker logged errors (level ERROR) in the last 5 minutes: see the log group.",
		props.WorkerErrors, 0, 1)
	alarm("TasksNotRunning", "Fewer tasks running than desired for 10 minutes: tasks crash, fail their image pull or cannot start.",
		tasksMissing(props.Cluster, props.Service), 0, crashLoopMinutes)
	alarm("OldestMessage", "The oldest work-queue message is older than the threshold: the worker is not keeping up or not running.",
		props.WorkQueue.MetricApproximateAgeOfOldestMessage(maxPerMinute()), props.OldestMessageAlarm.Seconds(), 1)
}

// newDashboard creates the dashboard: the queues, the worker's own metrics (outcomes, latency,
// decode time, source sizes, memory waits), the tasks.
func (m *Monitoring) newDashboard(props *MonitoringProps) awscloudwatch.Dashboard {
	running := containerInsights(props.Cluster, props.Service, "RunningTaskCount", "Running tasks")
	desired := containerInsights(props.Cluster, props.Service, "DesiredTaskCount", "Desired tasks")
	return awscloudwatch.NewDashboard(m.Construct, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
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
				graph("Worker: images per minute",
					workerMetric("Processed", "Sum", "Processed"), workerMetric("Failed", "Sum", "Failed"), workerMetric("Skipped", "Sum", "Skipped")),
				graph("Worker: upload to notification (ms)",
					workerMetric("Latency", "p50", "p50"), workerMetric("Latency", "p99", "p99")),
			},
			{
				graph("Worker: decoding and making the thumbnails (ms)",
					workerMetric("DecodeTime", "p50", "p50"), workerMetric("DecodeTime", "p99", "p99"), workerMetric("DecodeTime", "Maximum", "max")),
				graph("Worker: source bytes", workerMetric("SourceBytes", "p50", "p50"), workerMetric("SourceBytes", "Maximum", "max")),
			},
			{
				graph("Tasks", running, desired),
				graph("Worker errors and memory-budget waits", props.WorkerErrors, workerMetric("MemoryWaits", "Sum", "Memory-budget waits")),
			},
		},
	})
}

// graph is a half-width dashboard graph of the metrics.
func graph(title string, metrics ...awscloudwatch.IMetric) awscloudwatch.IWidget {
	return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
		Title: jsii.String(title), Left: &metrics, Width: jsii.Number(12),
	})
}

// workerMetric is one of the metrics the worker publishes in MetricsNamespace, per minute.
func workerMetric(name, stat, label string) awscloudwatch.IMetric {
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String(MetricsNamespace), MetricName: jsii.String(name),
		DimensionsMap: &map[string]*string{"Stack": awscdk.Aws_STACK_NAME()},
		Statistic:     jsii.String(stat), Period: awscdk.Duration_Minutes(jsii.Number(1)), Label: jsii.String(label),
	})
}

// Dashboard is the stack's CloudWatch dashboard.
func (m *Monitoring) Dashboard() awscloudwatch.Dashboard { return m.dashboard }

// MetricsNamespace is the CloudWatch namespace of the worker's own metrics (embedded metric
// format lines in its log, package worker/metrics), with the dimension Stack.
const MetricsNamespace = metrics.Namespace

// arrivals is the number of messages that arrived on a queue in a period: sent to it (by a
// client such as the worker), or moved to it by SQS (a redrive after maxReceiveCount, or
// EventBridge's dead-lettering), which NumberOfMessagesSent does not count but the depth shows.
func arrivals(queue awssqs.IQueue, label string) awscloudwatch.IMetric {
	period := awscdk.Duration_Seconds(jsii.Number(failurePeriod.Seconds()))
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String("MAX([sent, DIFF(depth)])"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"sent":  queue.MetricNumberOfMessagesSent(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: period}),
			"depth": queue.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum"), Period: period}),
		},
		Label:  jsii.String("New " + label),
		Period: period,
	})
}

// tasksMissing is desired minus running tasks, per minute.
func tasksMissing(cluster awsecs.ICluster, service awsecs.IBaseService) awscloudwatch.IMetric {
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String("desired - running"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"desired": containerInsights(cluster, service, "DesiredTaskCount", "Desired tasks"),
			"running": containerInsights(cluster, service, "RunningTaskCount", "Running tasks"),
		},
		Label:  jsii.String("Tasks desired but not running"),
		Period: awscdk.Duration_Minutes(jsii.Number(1)),
	})
}

func containerInsights(cluster awsecs.ICluster, service awsecs.IBaseService, name, label string) awscloudwatch.IMetric {
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace:  jsii.String("ECS/ContainerInsights"),
		MetricName: jsii.String(name),
		DimensionsMap: &map[string]*string{
			"ClusterName": cluster.ClusterName(),
			"ServiceName": service.ServiceName(),
		},
		Statistic: jsii.String("Maximum"),
		Period:    awscdk.Duration_Minutes(jsii.Number(1)),
		Label:     jsii.String(label),
	})
}
