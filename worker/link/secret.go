package link

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// SecretGetter is the one Secrets Manager call the endpoint makes.
type SecretGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// LoadSecret returns the secret from getenv's EnvSecret (the worker's container: ECS injects it
// from Secrets Manager at start), or else reads the secret EnvSecretARN names (the endpoint's
// function, once per cold start).
func LoadSecret(ctx context.Context, getenv func(string) string, sm func() (SecretGetter, error)) ([]byte, error) {
	if s := getenv(EnvSecret); s != "" {
		return []byte(s), nil
	}
	arn := getenv(EnvSecretARN)
	if arn == "" {
		return nil, fmt.Errorf("link secret: neither %s nor %s is set", EnvSecret, EnvSecretARN)
	}
	c, err := sm()
	if err != nil {
		return nil, err
	}
	out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return nil, fmt.Errorf("link secret %s: %w", arn, err)
	}
	return []byte(aws.ToString(out.SecretString)), nil
}
