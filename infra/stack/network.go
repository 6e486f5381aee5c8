package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// NetworkProps configures Network.
type NetworkProps struct {
	FlowLogBucket awss3.IBucket
}

// Network is a VPC with public subnets in two availability zones and no NAT gateway: the tasks
// get public IPs (no inbound rule lets anything in) and reach SQS, SNS, ECR and CloudWatch Logs
// over the internet gateway, and S3 through a free gateway endpoint. A NAT gateway would cost
// about $33/month per AZ before traffic; interface endpoints for SQS, SNS, ECR (2), Logs and STS
// about $88/month in two AZs. A task's public IPv4 address costs $3.65/month while it runs.
type Network struct {
	constructs.Construct
	vpc awsec2.Vpc
}

// NewNetwork creates the VPC, its S3 gateway endpoint and a flow log of rejected traffic.
func NewNetwork(scope constructs.Construct, id string, props *NetworkProps) *Network {
	n := &Network{Construct: constructs.NewConstruct(scope, jsii.String(id))}
	n.vpc = awsec2.NewVpc(n.Construct, jsii.String("Vpc"), &awsec2.VpcProps{
		MaxAzs:      jsii.Number(2),
		NatGateways: jsii.Number(0),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{{
			Name:       jsii.String("public"),
			SubnetType: awsec2.SubnetType_PUBLIC,
			CidrMask:   jsii.Number(24),
		}},
		GatewayEndpoints: &map[string]*awsec2.GatewayVpcEndpointOptions{
			"S3": {Service: awsec2.GatewayVpcEndpointAwsService_S3()},
		},
		// The default security group is unused (the service has its own); a custom resource removes
		// its rules, so that nothing placed in it by mistake can talk to anything.
		RestrictDefaultSecurityGroup: jsii.Bool(true),
	})
	n.vpc.AddFlowLog(jsii.String("RejectedTraffic"), &awsec2.FlowLogOptions{
		TrafficType: awsec2.FlowLogTrafficType_REJECT,
		Destination: awsec2.FlowLogDestination_ToS3(props.FlowLogBucket, jsii.String("vpc-flow-logs/"), nil),
	})
	return n
}

// Vpc is where the worker's tasks run.
func (n *Network) Vpc() awsec2.IVpc { return n.vpc }
