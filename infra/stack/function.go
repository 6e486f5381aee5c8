package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// workerFunction is what the link endpoint and the email digest share: the worker's image (the
// same asset, so the same ECR image) run as an ARM64 Lambda function with the thumbq command cmd,
// 128 MB, and its own log group ("Logs" and "Function" under scope).
type workerFunction struct {
	Cmd, Description string
	Timeout          awscdk.Duration
	Reserved         *float64 // reserved concurrency; nil for none
	Environment      map[string]*string
	LogRetention     awslogs.RetentionDays
	Retain           bool
	Image            WorkerImage
}

func (w workerFunction) build(scope constructs.Construct) awslambda.DockerImageFunction {
	logs := awslogs.NewLogGroup(scope, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     w.LogRetention,
		RemovalPolicy: removalPolicy(w.Retain),
	})
	fn := awslambda.NewDockerImageFunction(scope, jsii.String("Function"), &awslambda.DockerImageFunctionProps{
		Description: jsii.String(w.Description),
		Code: awslambda.DockerImageCode_FromImageAsset(jsii.String(w.Image.RepoRoot), &awslambda.AssetImageCodeProps{
			File:      jsii.String(Dockerfile),
			Platform:  awsecrassets.Platform_LINUX_ARM64(),
			Cmd:       jsii.Strings(w.Cmd),
			BuildArgs: w.Image.buildArgs(),
		}),
		Architecture:                 awslambda.Architecture_ARM_64(),
		MemorySize:                   jsii.Number(128),
		Timeout:                      w.Timeout,
		ReservedConcurrentExecutions: w.Reserved,
		LogGroup:                     logs,
		Environment:                  &w.Environment,
	})
	return fn
}

// basicExecutionRole is cdk-nag's finding on CDK's default execution role of a function, with its
// reason. The caller adds it, with its own, once the function's grants exist (the suppression
// reaches the children there are when it is added).
func basicExecutionRole() *cdknag.NagPackSuppression {
	return &cdknag.NagPackSuppression{
		Id:        jsii.String("AwsSolutions-IAM4"),
		Reason:    jsii.String("AWSLambdaBasicExecutionRole, CDK's default for a function: writing its own logs only."),
		AppliesTo: &[]interface{}{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"},
	}
}
