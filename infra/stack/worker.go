package stack

import (
	"maps"
	"slices"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapplicationautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/thumbq/thumbq/worker/config"
)

// Dockerfile is the worker image's Dockerfile, relative to the repository root (the build context).
const Dockerfile = "worker/Dockerfile"

// WorkerProps configures Worker.
type WorkerProps struct {
	Env Environment

	// RepoRoot is the Docker build context: the repository root (the Dockerfile needs go.mod).
	RepoRoot string

	Vpc             awsec2.IVpc
	SourceBucket    awss3.IBucket
	ThumbnailBucket awss3.IBucket
	WorkQueue       awssqs.IQueue
	DeadLetterQueue awssqs.IQueue
	Topic           awssns.ITopic
}

// Worker is the ECS Fargate service that runs `thumbq work`, scaled on the work queue's backlog.
type Worker struct {
	constructs.Construct
	cluster awsecs.Cluster
	service awsecs.FargateService
	errors  awslogs.MetricFilter
}

// NewWorker creates the cluster, the logs, the task definition with its container and its role's
// grants, the service and its scaling.
func NewWorker(scope constructs.Construct, id string, props *WorkerProps) *Worker {
	w := &Worker{Construct: constructs.NewConstruct(scope, jsii.String(id))}
	w.cluster = awsecs.NewCluster(w.Construct, jsii.String("Cluster"), &awsecs.ClusterProps{
		Vpc:                 props.Vpc,
		ContainerInsightsV2: awsecs.ContainerInsights_ENABLED, // RunningTaskCount for the dashboard
	})
	logs := w.addLogs(props.Env)
	task := w.addTaskDefinition(props.Env)
	addContainer(task, logs, props)
	grantTaskRole(task, props)
	w.addService(task, props.Vpc)
	w.scaleOnBacklog(props.WorkQueue, props.Env)
	return w
}

// addLogs creates the worker's log group and the metric filter that counts its errors.
func (w *Worker) addLogs(settings Environment) awslogs.LogGroup {
	logs := awslogs.NewLogGroup(w.Construct, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     settings.LogRetention,
		RemovalPolicy: removalPolicy(settings.Retain),
	})
	// The worker logs JSON lines (slog): count those at level ERROR.
	w.errors = awslogs.NewMetricFilter(w.Construct, jsii.String("Errors"), &awslogs.MetricFilterProps{
		LogGroup:        logs,
		FilterPattern:   awslogs.FilterPattern_StringValue(jsii.String("$.level"), jsii.String("="), jsii.String("ERROR")),
		MetricNamespace: jsii.String("thumbq/" + settings.Name),
		MetricName:      jsii.String("WorkerErrors"),
		MetricValue:     jsii.String("1"),
	})
	return logs
}

// addTaskDefinition creates the task definition: ARM64, since Graviton Fargate costs about 20%
// less than x86 for the same vCPU and memory.
func (w *Worker) addTaskDefinition(settings Environment) awsecs.FargateTaskDefinition {
	return awsecs.NewFargateTaskDefinition(w.Construct, jsii.String("Task"), &awsecs.FargateTaskDefinitionProps{
		Cpu:            jsii.Number(settings.CPU),
		MemoryLimitMiB: jsii.Number(settings.MemoryMiB),
		RuntimePlatform: &awsecs.RuntimePlatform{
			CpuArchitecture:       awsecs.CpuArchitecture_ARM64(),
			OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
		},
	})
}

// addContainer adds the worker's container, built from Dockerfile, running `thumbq work` with the
// configuration of containerEnvironment.
func addContainer(task awsecs.FargateTaskDefinition, logs awslogs.ILogGroup, props *WorkerProps) {
	container := task.AddContainer(jsii.String("worker"), &awsecs.ContainerDefinitionOptions{
		Image: awsecs.ContainerImage_FromAsset(jsii.String(props.RepoRoot), &awsecs.AssetImageProps{
			File:     jsii.String(Dockerfile),
			Platform: awsecrassets.Platform_LINUX_ARM64(),
		}),
		Command: jsii.Strings("work"),
		// ECS sends SIGTERM, waits this long, then SIGKILL: the worker's grace period and margin.
		StopTimeout:            seconds(config.StopTimeout(props.Env.GracePeriod)),
		ReadonlyRootFilesystem: jsii.Bool(true), // the worker writes no files
		Logging: awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{
			LogGroup:     logs,
			StreamPrefix: jsii.String("worker"),
		}),
	})
	// Added in a fixed order so that the template does not change from one synth to the next.
	env := containerEnvironment(props)
	for _, name := range slices.Sorted(maps.Keys(env)) {
		container.AddEnvironment(jsii.String(name), env[name])
	}
	cdknag.NagSuppressions_AddResourceSuppressions(task, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-ECS2"),
		Reason: jsii.String("The environment holds resource names, URLs and ARNs and tuning settings, no secrets: the worker's credentials come from its task role."),
	}}, jsii.Bool(false))
}

// containerEnvironment is the worker's configuration as the variables its config package names:
// the resources' names, resolved at deploy time, and the settings of the environment's
// workerConfig, which validate checked with the worker's own Validate. The others keep the
// worker's defaults.
func containerEnvironment(props *WorkerProps) map[string]*string {
	cfg := props.Env.workerConfig()
	return map[string]*string{
		config.EnvSourceBucket:      props.SourceBucket.BucketName(),
		config.EnvThumbnailBucket:   props.ThumbnailBucket.BucketName(),
		config.EnvQueueURL:          props.WorkQueue.QueueUrl(),
		config.EnvDeadLetterURL:     props.DeadLetterQueue.QueueUrl(),
		config.EnvTopicARN:          props.Topic.TopicArn(),
		config.EnvURLExpiry:         jsii.String(cfg.URLExpiry.String()),
		config.EnvVisibilityTimeout: jsii.String(cfg.VisibilityTimeout.String()),
		config.EnvGracePeriod:       jsii.String(cfg.GracePeriod.String()),
		config.EnvConcurrency:       jsii.String(strconv.Itoa(cfg.Concurrency)),
	}
}

// grantTaskRole gives the task role least privilege: read uploads; write thumbnails and read them
// back (a presigned GET is authorized as the task role); consume the work queue; send bad uploads
// to its dead-letter queue; publish to the topic.
func grantTaskRole(task awsecs.FargateTaskDefinition, props *WorkerProps) {
	role := task.TaskRole()
	props.SourceBucket.GrantRead(role, nil)
	props.ThumbnailBucket.GrantPut(role, nil)
	props.ThumbnailBucket.GrantRead(role, nil)
	props.WorkQueue.GrantConsumeMessages(role)
	props.DeadLetterQueue.GrantSendMessages(role)
	props.Topic.GrantPublish(role)
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("Object-level grants on the two buckets (any key: uploads can have any name) and the " +
			"action groups of CDK's S3 read/put grants; every statement names its bucket."),
		AppliesTo: &[]interface{}{
			"Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*", "Action::s3:Abort*",
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::<.*(SourceBucket|ThumbnailBucket).*\.Arn>\/\*$/`)},
		},
	}}, jsii.Bool(true))
	cdknag.NagSuppressions_AddResourceSuppressions(task.ExecutionRole(), &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String("ecr:GetAuthorizationToken, granted by CDK for the image pull, supports no resource-level permission."),
		AppliesTo: &[]interface{}{"Resource::*"},
	}}, jsii.Bool(true))
}

// addService creates the Fargate service in the public subnets (see Network), with a security
// group that lets nothing in, replacing tasks before it stops old ones and rolling back a failed
// deployment.
func (w *Worker) addService(task awsecs.FargateTaskDefinition, vpc awsec2.IVpc) {
	sg := awsec2.NewSecurityGroup(w.Construct, jsii.String("Tasks"), &awsec2.SecurityGroupProps{
		Vpc:              vpc,
		Description:      jsii.String("thumbq worker tasks: no inbound, outbound to AWS APIs"),
		AllowAllOutbound: jsii.Bool(true),
	})
	w.service = awsecs.NewFargateService(w.Construct, jsii.String("Service"), &awsecs.FargateServiceProps{
		Cluster:           w.cluster,
		TaskDefinition:    task,
		AssignPublicIp:    jsii.Bool(true), // public subnets, no NAT gateway: see Network
		VpcSubnets:        &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC},
		SecurityGroups:    &[]awsec2.ISecurityGroup{sg},
		MinHealthyPercent: jsii.Number(100),
		MaxHealthyPercent: jsii.Number(200),
		CircuitBreaker:    &awsecs.DeploymentCircuitBreaker{Rollback: jsii.Bool(true)},
	})
}

// scaleOnBacklog scales the service between the environment's MinTasks and MaxTasks on the
// backlog: messages waiting plus messages being worked on, so that a task is removed only when
// nothing is left for it. Step scaling works from zero tasks (target tracking on backlog per task
// would not).
func (w *Worker) scaleOnBacklog(queue awssqs.IQueue, settings Environment) {
	backlog := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String("visible + inflight"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"visible":  queue.MetricApproximateNumberOfMessagesVisible(maxPerMinute()),
			"inflight": queue.MetricApproximateNumberOfMessagesNotVisible(maxPerMinute()),
		},
		Label:  jsii.String("Backlog"),
		Period: awscdk.Duration_Minutes(jsii.Number(1)),
	})
	scaling := w.service.AutoScaleTaskCount(&awsapplicationautoscaling.EnableScalingProps{
		MinCapacity: jsii.Number(settings.MinTasks),
		MaxCapacity: jsii.Number(settings.MaxTasks),
	})
	scaling.ScaleOnMetric(jsii.String("Backlog"), &awsapplicationautoscaling.BasicStepScalingPolicyProps{
		Metric:         backlog,
		AdjustmentType: awsapplicationautoscaling.AdjustmentType_CHANGE_IN_CAPACITY,
		ScalingSteps: &[]*awsapplicationautoscaling.ScalingInterval{
			{Upper: jsii.Number(0), Change: jsii.Number(-1)},
			{Lower: jsii.Number(1), Change: jsii.Number(1)},
			{Lower: jsii.Number(100), Change: jsii.Number(2)},
			{Lower: jsii.Number(1000), Change: jsii.Number(4)},
		},
		Cooldown:          awscdk.Duration_Minutes(jsii.Number(1)),
		EvaluationPeriods: jsii.Number(1),
	})
}

// Cluster is the ECS cluster of the service.
func (w *Worker) Cluster() awsecs.ICluster { return w.cluster }

// Service is the Fargate service.
func (w *Worker) Service() awsecs.IBaseService { return w.service }

// Errors is the number of log lines at level ERROR.
func (w *Worker) Errors() awscloudwatch.IMetric {
	return w.errors.Metric(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Label: jsii.String("Worker errors")})
}
