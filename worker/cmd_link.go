package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/thumbq/thumbq/worker/config"
	"github.com/thumbq/thumbq/worker/link"
	"github.com/thumbq/thumbq/worker/pipeline"
)

func init() {
	commands["link"] = command{"serve thumbnail links: check a link, redirect to a fresh short presigned URL (the link endpoint)", runLink}
}

const linkHelp = `
Serves the links the worker publishes (` + link.PathPrefix + `<thumbnail key>?exp=...&sig=...): checks the
HMAC and the expiry, then redirects (302) to a presigned URL of the thumbnail that lives 5 minutes,
signed with this process's current credentials. In AWS it runs as a Lambda function (the worker's
image, command "link") behind a function URL; elsewhere it listens on -addr.

Environment: ` + config.EnvThumbnailBucket + `, and ` + link.EnvSecret + ` or ` + link.EnvSecretARN + ` (read from Secrets Manager);
AWS_REGION, AWS_ENDPOINT_URL and the SDK's other variables as usual.
`

func runLink(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("link", "", linkHelp, stderr)
	addr := fs.String("addr", "127.0.0.1:8081", "address to listen on when not in Lambda")
	if err := parse(fs, args); err != nil {
		return err
	}
	bucket := os.Getenv(config.EnvThumbnailBucket)
	if bucket == "" {
		return fmt.Errorf("%s: required, not set", config.EnvThumbnailBucket)
	}
	awsCfg, err := loadAWS(ctx)
	if err != nil {
		return err
	}
	secret, err := link.LoadSecret(ctx, os.Getenv, func() (link.SecretGetter, error) { return secretsmanager.NewFromConfig(awsCfg), nil })
	if err != nil {
		return err
	}
	log := newLogger(stdout, os.Getenv(config.EnvLogLevel))
	h := &link.Handler{Secret: secret, Presign: link.S3Presign(s3.NewPresignClient(s3.NewFromConfig(awsCfg, s3Options)), bucket), Log: log}
	if api := link.RuntimeAPI(); api != "" {
		return link.ServeLambda(ctx, api, h)
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "serving links on http://%s%s\n", l.Addr(), link.PathPrefix)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// useLinks makes the processor publish links of the link endpoint instead of URLs presigned with
// the worker's role credentials, when the stack configured one (THUMBQ_LINK_URL): a link lives
// THUMBQ_URL_EXPIRY whatever the credentials do, so it is no longer capped at their expiry.
// Without THUMBQ_LINK_URL the processor presigns as before.
func useLinks(p *pipeline.Processor, getenv func(string) string) error {
	base := getenv(link.EnvBaseURL)
	if base == "" {
		return nil
	}
	secret := getenv(link.EnvSecret)
	signer, err := link.NewSigner(base, []byte(secret))
	if err != nil {
		return err
	}
	p.Presigner = &link.Presigner{Signer: signer}
	p.CredentialsExpire = nil
	return nil
}
