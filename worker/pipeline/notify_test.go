package pipeline

import (
	"strings"
	"testing"
	"time"

	"github.com/thumbq/thumbq/worker/event"
	"github.com/thumbq/thumbq/worker/failure"
)

func TestNotificationNamesTheThumbnailBucket(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	o := Outcome{Result: Result{Object: event.Object{Bucket: "src", Key: "a.jpg"}, Status: OK, Format: "jpeg",
		Width: 64, Height: 48, ThumbnailKey: "64x64/a.jpg.png", URL: "https://x/y", URLExpires: now.Add(time.Hour)}}
	n := NewNotification(o, "thumbq-thumbnails", now)
	if !strings.Contains(n.Body, "s3://thumbq-thumbnails/64x64/a.jpg.png") || strings.Contains(n.Body, "s3://.../") {
		t.Errorf("body names the thumbnail as:\n%s\nwant s3://thumbq-thumbnails/64x64/a.jpg.png", n.Body)
	}
}

func TestNotificationSubjects(t *testing.T) {
	for _, tc := range []struct{ name, key, want string }{
		{"a plain key is kept", "IMG 0001 (copy)+final.jpg", "Thumbnail ready: IMG 0001 (copy)+final.jpg"},
		{"accents are dropped and Greek is transliterated", "sub/fotos café ñ/φωτογραφία.jpg",
			"Thumbnail ready: sub/fotos cafe n/fotografia.jpg (exact key in the message)"},
		{"Cyrillic is transliterated", "фото/Ёжик.png", "Thumbnail ready: foto/Yozhik.png (exact key in the message)"},
		{"each run of other letters is one ?", "写真/猫 cat.jpg", "Thumbnail ready: ?/? cat.jpg (exact key in the message)"},
		{"a line break is a space", "a\nb.jpg", "Thumbnail ready: a b.jpg (exact key in the message)"},
		{"a long key is shortened", strings.Repeat("x", 120) + ".jpg",
			"Thumbnail ready: " + strings.Repeat("x", 52) + "... (exact key in the message)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := subjectFor("Thumbnail ready: ", tc.key)
			if got != tc.want {
				t.Errorf("subjectFor(%q) = %q; want %q", tc.key, got, tc.want)
			}
			if len(got) >= 100 {
				t.Errorf("subject of %d characters; SNS wants under 100", len(got))
			}
			for _, r := range got {
				if r < 0x20 || r > 0x7e {
					t.Errorf("subject %q holds %q, which SNS email refuses", got, r)
				}
			}
		})
	}
}

// TestFailureNotificationAdvice: redrive is advised only where it can help.
func TestFailureNotificationAdvice(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		code     failure.Code
		redrive  bool
		mentions string
	}{
		{failure.NotImage, false, "upload a mended file"},
		{failure.RetriesExhausted, true, "thumbq redrive"},
	} {
		o := Outcome{Result: Result{Object: event.Object{Bucket: "src", Key: "notes.txt"}, Status: Failed},
			Err: failure.New(tc.code, "", "detail")}
		n := NewNotification(o, "thumbs", now)
		if strings.Contains(n.Body, "redrive") != tc.redrive || !strings.Contains(n.Body, tc.mentions) {
			t.Errorf("%s notification:\n%s\nwant it to mention %q, and redrive: %v", tc.code, n.Body, tc.mentions, tc.redrive)
		}
	}
}
