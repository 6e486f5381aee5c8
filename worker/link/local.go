package link

import (
	"crypto/rand"
	"net"
	"net/http"
	"time"
)

// Local is a link endpoint for `thumbq local`: the same link shape as in AWS, served on a port of
// its own, with a key made for the run.
type Local struct {
	Signer *Signer
	server *http.Server
}

// StartLocal serves links on a free port of 127.0.0.1, redirecting to URLs made by presign (the
// emulated S3's presigned URLs).
func StartLocal(presign Presign) (*Local, error) {
	secret := make([]byte, 32)
	rand.Read(secret)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	signer, err := NewSigner("http://"+l.Addr().String(), secret)
	if err != nil {
		l.Close()
		return nil, err
	}
	srv := &http.Server{Handler: &Handler{Secret: secret, Presign: presign}, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	return &Local{Signer: signer, server: srv}, nil
}

// Close stops serving.
func (l *Local) Close() error { return l.server.Close() }
