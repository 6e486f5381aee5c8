// Package e2e holds the end-to-end test of the prod template on a peer: it deploys the synthesized
// template (the committed snapshot, which the stack's tests keep equal to the synth) into
// moto_server with `aws cloudformation create-stack`, runs `thumbq work` configured from the
// stack's outputs, uploads images and a non-image to the deployed source bucket, and checks the
// thumbnails, the notifications on a queue subscribed to the deployed topic and the dead letter
// with its reason. The package has no code of its own besides the test.
package e2e
