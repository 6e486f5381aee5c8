package stack

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapplicationautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/thumbq/thumbq/worker/config"
	"github.com/thumbq/thumbq/worker/digest"
	"github.com/thumbq/thumbq/worker/link"
	"github.com/thumbq/thumbq/worker/metrics"
)

// Dockerfile is the worker image's Dockerfile, relative to the repository root (the build context).
const Dockerfile = "worker/Dockerfile"

// WorkerImage is where the worker's image is built from: the Docker build context, and the commit
// thumbq --version reports in the image (the context has no .git to read it from).
type WorkerImage struct {
	RepoRoot string // the repository root (Dockerfile needs go.mod)
	// Commit is passed as the build argument THUMBQ_COMMIT ("": the image says "commit
	// unknown"). It is part of the image asset's hash: infra's main gives the last commit that
	// changed the worker's sources, so that other commits leave the image as it was.
	Commit string
}

// buildArgs are the image's Docker build arguments: THUMBQ_COMMIT, always, so that the
// template's asset metadata has the same shape whether the commit is known or not (package
// snapshot replaces its value).
func (i WorkerImage) buildArgs() *map[string]*string {
	return &map[string]*string{"THUMBQ_COMMIT": jsii.String(i.Commit)}
}

// ContainerUser is the user:group the worker runs as: distroless's nonroot (65532), as in Dockerfile.
const ContainerUser = "65532:65532"

// WorkerProps configures Worker.
type WorkerProps struct {
	Env Environment

	// Image is where the worker's image is built from.
	Image WorkerImage

	Vpc             awsec2.IVpc
	SourceBucket    awss3.IBucket
	ThumbnailBucket awss3.IBucket
	WorkQueue       awssqs.IQueue
	DeadLetterQueue awssqs.IQueue
	Topic           awssns.ITopic
	Links           *Links  // the link endpoint the worker's notifications point at
	Digest          *Digest // where the worker sends each outcome for the email digest; nil: none
}

// Worker is the ECS Fargate service that runs `thumbq work`, scaled on the work queue's backlog.
type Worker struct {
	constructs.Construct
	cluster awsecs.Cluster
	service awsecs.FargateService
	logs    awslogs.LogGroup
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
	w.logs = w.addLogs(props.Env)
	logs := w.logs
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
		Image: awsecs.ContainerImage_FromAsset(jsii.String(props.Image.RepoRoot), &awsecs.AssetImageProps{
			File:      jsii.String(Dockerfile),
			Platform:  awsecrassets.Platform_LINUX_ARM64(),
			BuildArgs: props.Image.buildArgs(),
		}),
		Command: jsii.Strings("work"),
		// ECS sends SIGTERM, waits this long, then SIGKILL: the worker's grace period and margin.
		StopTimeout:            seconds(config.StopTimeout(props.Env.GracePeriod)),
		ReadonlyRootFilesystem: jsii.Bool(true), // the worker writes no files
		// distroless's nonroot user, stated here too so that the task never runs as root whatever
		// the image says.
		User: jsii.String(ContainerUser),
		Logging: awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{
			LogGroup:     logs,
			StreamPrefix: jsii.String("worker"),
		}),
	})
	// Added in a fixed order so that the template does not change from one synth to the next.
	env := containerEnvironment(props)
	for name, v := range props.Env.Worker {
		env[name] = jsii.String(v)
	}
	for _, name := range slices.Sorted(maps.Keys(env)) {
		container.AddEnvironment(jsii.String(name), env[name])
	}
	if props.Digest != nil {
		container.AddEnvironment(jsii.String(digest.EnvQueueURL), props.Digest.Queue().QueueUrl())
	}
	// Injected by ECS from Secrets Manager when the task starts (the execution role may read it).
	container.AddSecret(jsii.String(link.EnvSecret), awsecs.Secret_FromSecretsManager(props.Links.Secret(), nil))
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
		link.EnvBaseURL:             props.Links.URL(),
		metrics.EnvStack:            awscdk.Aws_STACK_NAME(), // the dimension of the worker's metrics
	}
}

// grantTaskRole gives the task role least privilege, action by action: read uploads (GetObject,
// which also authorizes HeadObject) and list the source bucket (so that a missing key is a 404,
// not a 403); write thumbnails and markers and read the markers back; consume the work queue; send bad uploads to its dead-letter queue; publish to the topic.
// CDK's GrantRead and GrantPut would add about 50 actions (s3:GetObject*, s3:List*,
// s3:GetBucket*, legal hold, retention, tagging, Abort*) the worker never calls.
func grantTaskRole(task awsecs.FargateTaskDefinition, props *WorkerProps) {
	role := task.TaskRole()
	grant(role, props.SourceBucket.ArnForObjects(jsii.String("*")), "s3:GetObject")
	grant(role, props.SourceBucket.BucketArn(), "s3:ListBucket")
	// Thumbnails and the notification markers (_thumbq/...) are written there and the markers read
	// back; ListBucket makes a missing marker a 404 (without it S3 answers 403, and every first
	// delivery would fail as if S3 were down).
	grant(role, props.ThumbnailBucket.ArnForObjects(jsii.String("*")), "s3:GetObject", "s3:PutObject")
	// A claim to notify is deleted when its publish fails, so the next delivery need not wait it out.
	grant(role, props.ThumbnailBucket.ArnForObjects(jsii.String(config.MarkerPrefix+"*")), "s3:DeleteObject")
	grant(role, props.ThumbnailBucket.BucketArn(), "s3:ListBucket")
	props.WorkQueue.GrantConsumeMessages(role)
	props.DeadLetterQueue.GrantSendMessages(role)
	if props.Digest != nil {
		props.Digest.Queue().GrantSendMessages(role)
	}
	// Not Topic.GrantPublish: with the flag applyImportedAliasPermissionsToPrincipal it adds
	// kms:GenerateDataKey*/Decrypt on key/* for the aws/sns alias, which the AWS-managed key's own
	// policy already allows to every principal of the account through SNS.
	// GetTopicAttributes: the worker checks its topic at start-up and exits naming it when it cannot.
	grant(role, props.Topic.TopicArn(), "sns:Publish", "sns:GetTopicAttributes")
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("s3:GetObject on the source bucket's objects and s3:GetObject/s3:PutObject on the thumbnail " +
			"bucket's objects: uploads can have any key, so the resource is <bucket>/*; s3:DeleteObject only under the " +
			"notification markers' prefix (" + config.MarkerPrefix + "*), whose keys name the uploads; no action wildcard."),
		AppliesTo: &[]interface{}{
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::<.*(SourceBucket|ThumbnailBucket).*\.Arn>\/\*$/`)},
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::<.*ThumbnailBucket.*\.Arn>\/` + strings.ReplaceAll(config.MarkerPrefix, "/", `\/`) + `\*$/`)},
		},
	}}, jsii.Bool(true))
	cdknag.NagSuppressions_AddResourceSuppressions(task.ExecutionRole(), &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String("ecr:GetAuthorizationToken, granted by CDK for the image pull, supports no resource-level permission."),
		AppliesTo: &[]interface{}{"Resource::*"},
	}}, jsii.Bool(true))
}

// grant allows exactly these actions on one resource, in the grantee's default policy.
func grant(grantee awsiam.IGrantable, resource *string, actions ...string) {
	awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      grantee,
		Actions:      jsii.Strings(actions...),
		ResourceArns: &[]*string{resource},
	})
}

// addService creates the Fargate service in the public subnets (see Network), with a security
// group that lets nothing in, replacing tasks before it stops old ones and rolling back a failed
// deployment.
func (w *Worker) addService(task awsecs.FargateTaskDefinition, vpc awsec2.IVpc) {
	sg := awsec2.NewSecurityGroup(w.Construct, jsii.String("Tasks"), &awsec2.SecurityGroupProps{
		Vpc:              vpc,
		Description:      jsii.String("thumbq worker tasks: no inbound, outbound to AWS APIs"),
		AllowAllOutbound: jsii.Bool(false),
	})
	// Every AWS API the worker calls (S3 through the gateway endpoint, SQS, SNS, ECR, CloudWatch
	// Logs, the ECS agent's credentials) is HTTPS. The ECS agent endpoint is link-local and not
	// governed by the security group.
	sg.AddEgressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(443)), jsii.String("HTTPS to AWS APIs"), jsii.Bool(false))
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
// backlog per task: (visible + in-flight messages) / desired tasks, by target tracking on a
// metric-math expression. Target tracking computes desired = ceil(desired x metric / target), so
// dividing by the desired count (not the running one) lands on backlog / target in one step, even
// while tasks are still starting. It cannot leave zero tasks (a per-task figure of zero tasks is
// meaningless), so a step policy whose metric is the backlog only while nothing is desired starts
// the first task.
func (w *Worker) scaleOnBacklog(queue awssqs.IQueue, settings Environment) {
	scaling := w.service.AutoScaleTaskCount(&awsapplicationautoscaling.EnableScalingProps{
		MinCapacity: jsii.Number(settings.MinTasks),
		MaxCapacity: jsii.Number(settings.MaxTasks),
	})
	// The L2 policy wires itself to the scalable target; its metric is then replaced by the
	// expression, which the L2 does not take (it accepts a single metric only).
	scaling.ScaleToTrackCustomMetric(jsii.String("BacklogPerTask"), &awsecs.TrackCustomMetricProps{
		Metric:           queue.MetricApproximateNumberOfMessagesVisible(maxPerMinute()),
		TargetValue:      jsii.Number(settings.BacklogPerTask),
		ScaleOutCooldown: seconds(scaleOutCooldown),
		ScaleInCooldown:  seconds(scaleInCooldown),
	})
	policy := findChild(scaling, "BacklogPerTask")
	policy.Node().DefaultChild().(awsapplicationautoscaling.CfnScalingPolicy).SetTargetTrackingScalingPolicyConfiguration(
		&awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingScalingPolicyConfigurationProperty{
			TargetValue:      jsii.Number(settings.BacklogPerTask),
			ScaleOutCooldown: jsii.Number(scaleOutCooldown.Seconds()),
			ScaleInCooldown:  jsii.Number(scaleInCooldown.Seconds()),
			CustomizedMetricSpecification: &awsapplicationautoscaling.CfnScalingPolicy_CustomizedMetricSpecificationProperty{
				Metrics: &[]*awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingMetricDataQueryProperty{
					sqsMaximum(queue, "visible", "ApproximateNumberOfMessagesVisible"),
					sqsMaximum(queue, "inflight", "ApproximateNumberOfMessagesNotVisible"),
					w.desiredTasks(),
					{
						Id:         jsii.String("perTask"),
						Expression: jsii.String(BacklogPerTaskExpression),
						Label:      jsii.String("Backlog per task"),
						ReturnData: jsii.Bool(true),
					},
				},
			},
		})

	if settings.MinTasks == 0 {
		w.wakeFromZero(scaling, queue, settings)
	}
}

// sqsMaximum is the 1-minute maximum of the queue's metric name: the input id of
// BacklogPerTaskExpression.
func sqsMaximum(queue awssqs.IQueue, id, name string) *awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingMetricDataQueryProperty {
	return &awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingMetricDataQueryProperty{
		Id: jsii.String(id), ReturnData: jsii.Bool(false),
		MetricStat: &awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingMetricStatProperty{
			Stat: jsii.String("Maximum"),
			Metric: &awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingMetricProperty{
				Namespace: jsii.String("AWS/SQS"), MetricName: jsii.String(name),
				Dimensions: &[]*awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingMetricDimensionProperty{
					{Name: jsii.String("QueueName"), Value: queue.QueueName()},
				},
			},
		},
	}
}

// desiredTasks is the service's desired task count (Container Insights), as the input "desired"
// of BacklogPerTaskExpression.
func (w *Worker) desiredTasks() *awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingMetricDataQueryProperty {
	return &awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingMetricDataQueryProperty{
		Id: jsii.String("desired"), ReturnData: jsii.Bool(false),
		MetricStat: &awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingMetricStatProperty{
			Stat: jsii.String("Maximum"),
			Metric: &awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingMetricProperty{
				Namespace: jsii.String("ECS/ContainerInsights"), MetricName: jsii.String("DesiredTaskCount"),
				Dimensions: &[]*awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingMetricDimensionProperty{
					{Name: jsii.String("ClusterName"), Value: w.cluster.ClusterName()},
					{Name: jsii.String("ServiceName"), Value: w.service.ServiceName()},
				},
			},
		},
	}
}

// wakeFromZero starts tasks when there is a backlog and no task is desired: a step policy on the
// backlog while the desired count is 0 (the metric is 0 otherwise).
func (w *Worker) wakeFromZero(scaling awsecs.ScalableTaskCount, queue awssqs.IQueue, settings Environment) {
	wake := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String(WakeExpression),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"visible":  queue.MetricApproximateNumberOfMessagesVisible(maxPerMinute()),
			"inflight": queue.MetricApproximateNumberOfMessagesNotVisible(maxPerMinute()),
			"desired": awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace:  jsii.String("ECS/ContainerInsights"),
				MetricName: jsii.String("DesiredTaskCount"),
				DimensionsMap: &map[string]*string{
					"ClusterName": w.cluster.ClusterName(),
					"ServiceName": w.service.ServiceName(),
				},
				Statistic: jsii.String("Maximum"),
				Period:    awscdk.Duration_Minutes(jsii.Number(1)),
			}),
		},
		Label:  jsii.String("Backlog with no task desired"),
		Period: awscdk.Duration_Minutes(jsii.Number(1)),
	})
	// Exact capacities: 1 task from 1 message, 2 (if allowed) from one task's target. Only an
	// upper alarm exists (no interval below 1), and the metric is 0 whenever a task is desired,
	// so this never overrides what target tracking chose.
	scaling.ScaleOnMetric(jsii.String("FromZero"), &awsapplicationautoscaling.BasicStepScalingPolicyProps{
		Metric:         wake,
		AdjustmentType: awsapplicationautoscaling.AdjustmentType_EXACT_CAPACITY,
		ScalingSteps: &[]*awsapplicationautoscaling.ScalingInterval{
			{Lower: jsii.Number(1), Upper: jsii.Number(settings.BacklogPerTask), Change: jsii.Number(1)},
			{Lower: jsii.Number(settings.BacklogPerTask), Change: jsii.Number(min(2, settings.MaxTasks))},
		},
		Cooldown:          awscdk.Duration_Minutes(jsii.Number(1)),
		EvaluationPeriods: jsii.Number(1),
	})
}

// findChild is the construct of this id anywhere below scope (CDK puts a scaling policy under
// the scalable target it creates inside ScalableTaskCount).
func findChild(scope constructs.IConstruct, id string) constructs.IConstruct {
	for _, c := range *scope.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		if *c.Node().Id() == id {
			return c
		}
	}
	panic("no construct " + id + " below " + *scope.Node().Path())
}

// Target tracking's cooldowns. A scale-out waits until the tasks it added are running and counted
// in the metric (a Fargate start, about 1 minute, and SQS's metric delay, 1-2 minutes): with a
// shorter one, the next datapoint still divides the backlog by the old task count and the policy
// overshoots (make simulate showed 10 tasks for 10 uploads/s with 60 s).
const (
	scaleOutCooldown = 3 * time.Minute
	scaleInCooldown  = 5 * time.Minute
)

// The scaling expressions, over visible and in-flight messages of the work queue and the
// service's desired task count (all 1-minute maxima). make simulate evaluates the same strings.
const (
	BacklogPerTaskExpression = "(visible + inflight) / IF(desired > 0, desired, 1)"
	WakeExpression           = "IF(FILL(desired, 0) < 1, visible + inflight, 0)"
)

// Cluster is the ECS cluster of the service.
func (w *Worker) Cluster() awsecs.ICluster { return w.cluster }

// Service is the Fargate service.
func (w *Worker) Service() awsecs.IBaseService { return w.service }

// Logs is the worker's log group.
func (w *Worker) Logs() awslogs.ILogGroup { return w.logs }

// Errors is the number of log lines at level ERROR.
func (w *Worker) Errors() awscloudwatch.IMetric {
	return w.errors.Metric(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Label: jsii.String("Worker errors")})
}
