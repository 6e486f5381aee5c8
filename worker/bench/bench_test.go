package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/thumbq/thumbq/worker/fit"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []int64
		want int64
	}{
		{"of nothing is 0", nil, 0},
		{"of one value is that value", []int64{7}, 7},
		{"of an odd count is the middle value", []int64{9, 1, 5}, 5},
		{"of an even count is the mean of the middle two", []int64{4, 1, 10, 2}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			if got := median(tt.in); got != tt.want {
				t.Errorf("median(%v) = %d; want %d", tt.in, got, tt.want)
			}
			if !slices.Equal(in, tt.in) {
				t.Errorf("median reordered its argument: %v; was %v", tt.in, in)
			}
		})
	}
	if got := median([]time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond}); got != 2*time.Millisecond {
		t.Errorf("median of durations = %v; want 2ms", got)
	}
}

func TestPerImageLeavesOutStartUp(t *testing.T) {
	// Start-up 100 ms, 30 ms per image: 1 file costs 130 ms, 8 files 340 ms.
	one := sample{CPU: 130 * time.Millisecond}
	many := sample{CPU: 340 * time.Millisecond}
	if got := perImage(one, many, 8); got != 30*time.Millisecond {
		t.Errorf("perImage(130ms, 340ms, 8) = %v; want 30ms", got)
	}
}

func TestPercentileIsNearestRank(t *testing.T) {
	var xs []time.Duration
	for i := 100; i >= 1; i-- {
		xs = append(xs, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		p    float64
		xs   []time.Duration
		want time.Duration
	}{
		{50, xs, 50 * time.Millisecond},
		{99, xs, 99 * time.Millisecond},
		{100, xs, 100 * time.Millisecond},
		{99, xs[:10], 100 * time.Millisecond}, // of 10 values, p99 is the largest
		{50, []time.Duration{time.Second}, time.Second},
		{50, nil, 0},
	}
	for _, tt := range tests {
		if got := percentile(tt.xs, tt.p); got != tt.want {
			t.Errorf("percentile(%d values, %v) = %v; want %v", len(tt.xs), tt.p, got, tt.want)
		}
	}
}

func TestWantSizesAreTheWorkersPlan(t *testing.T) {
	tests := []struct {
		sizes string
		w, h  int
		want  []size
	}{
		{"64x64", 4000, 3000, []size{{64, 48}}},
		{"64x64", 9464, 5324, []size{{64, 36}}},
		{"64x64", 3000, 4000, []size{{48, 64}}},
		{"64x64", 1920, 1080, []size{{64, 36}}},
		{"64x64", 16, 16, []size{{16, 16}}}, // never enlarged
		{"64x64", 10000, 10, []size{{64, 1}}},
		{"64x64,256x256:cover,1024x1024:contain", 4000, 3000, []size{{64, 48}, {256, 256}, {1024, 768}}},
	}
	for _, tt := range tests {
		if got := wantSizes(fit.MustParse(tt.sizes), tt.w, tt.h); !slices.Equal(got, tt.want) {
			t.Errorf("wantSizes(%s, %dx%d) = %v; want %v", tt.sizes, tt.w, tt.h, got, tt.want)
		}
	}
}

func TestParseNotification(t *testing.T) {
	t.Run("reads key, status and reason from an SNS envelope", func(t *testing.T) {
		body := `{"Type":"Notification","MessageId":"1","TopicArn":"arn:aws:sns:us-east-1:000000000000:t",
			"Subject":"Thumbnail failed: a/b.jpg","Message":"...","Timestamp":"2026-11-23T23:00:00Z",
			"MessageAttributes":{"key":{"Type":"String","Value":"a/b c.jpg"},"status":{"Type":"String","Value":"failed"},
			"reason":{"Type":"String","Value":"corrupt: unexpected EOF"}}}`
		n, err := parseNotification([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if n.Key != "a/b c.jpg" || n.Status != "failed" || n.Reason != "corrupt: unexpected EOF" {
			t.Errorf("parseNotification = %+v; want key a/b c.jpg, status failed, the reason", n)
		}
	})
	for name, body := range map[string]string{
		"refuses a body that is not JSON":        "Thumbnail ready",
		"refuses an envelope without attributes": `{"Type":"Notification","Message":"hello"}`,
		"refuses an envelope without a status":   `{"MessageAttributes":{"key":{"Type":"String","Value":"k"}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			if n, err := parseNotification([]byte(body)); err == nil {
				t.Errorf("parseNotification(%q) = %+v; want an error", body, n)
			}
		})
	}
}

func TestCPUModel(t *testing.T) {
	tests := []struct{ name, cpuinfo, want string }{
		{"x86 names the model", "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel\t\t: 1\nmodel name\t: AMD EPYC 7R13 Processor\n", "AMD EPYC 7R13 Processor"},
		{"a board names its model", "processor\t: 0\nBogoMIPS\t: 108.00\n\nModel\t: Raspberry Pi 4 Model B Rev 1.4\n", "Raspberry Pi 4 Model B Rev 1.4"},
		{"arm64 servers give the CPU part", "processor\t: 0\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\n", "0xd0c"},
		{"none is empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cpuModel([]byte(tt.cpuinfo)); got != tt.want {
				t.Errorf("cpuModel = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestVersionOnly(t *testing.T) {
	tests := map[string]string{
		"vips-8.14.1": "vips-8.14.1",
		"ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2026 the FFmpeg developers": "ffmpeg 5.1.9-0+deb12u1",
		"Version: ImageMagick 6.9.11-60 Q16 x86_64 2021-01-25 https://imagemagick.org": "ImageMagick 6.9.11-60 Q16",
		"Version: ImageMagick 7.1.1-43 Q16-HDRI aarch64 22550 https://imagemagick.org": "ImageMagick 7.1.1-43 Q16-HDRI",
	}
	for line, want := range tests {
		if got := versionOnly(line); got != want {
			t.Errorf("versionOnly(%q) = %q; want %q", line, got, want)
		}
	}
}

func ms12(tool string, perImage time.Duration) measurement {
	return measurement{Input: "jpeg-12mp.jpg", Tool: tool, PerImage: perImage, Peak: 50 << 20, Idle: 10 << 20}
}

func TestVerdict(t *testing.T) {
	vipsTarget, ffmpegTarget, memTarget := targets[0], targets[1], targets[2]
	tests := []struct {
		name      string
		t         target
		ms        []measurement
		got, want string
	}{
		{"met at exactly 1.5x vipsthumbnail", vipsTarget,
			[]measurement{ms12(ours, 150*time.Millisecond), ms12("vipsthumbnail", 100*time.Millisecond)}, "1.50x", "met"},
		{"missed above 1.5x vipsthumbnail", vipsTarget,
			[]measurement{ms12(ours, 151*time.Millisecond), ms12("vipsthumbnail", 100*time.Millisecond)}, "1.51x", "**missed**"},
		{"met when 5x faster than ffmpeg", ffmpegTarget,
			[]measurement{ms12(ours, 20*time.Millisecond), ms12("ffmpeg", 100*time.Millisecond)}, "0.20x", "met"},
		{"missed when only 4x faster than ffmpeg", ffmpegTarget,
			[]measurement{ms12(ours, 25*time.Millisecond), ms12("ffmpeg", 100*time.Millisecond)}, "0.25x", "**missed**"},
		{"not measured when the reference tool failed", vipsTarget,
			[]measurement{ms12(ours, 20*time.Millisecond), {Input: "jpeg-12mp.jpg", Tool: "vipsthumbnail", Err: os.ErrNotExist}}, "-", "not measured: no vipsthumbnail figure"},
		{"not measured when thumbq failed", vipsTarget,
			[]measurement{{Input: "jpeg-12mp.jpg", Tool: ours, Err: os.ErrNotExist}, ms12("vipsthumbnail", 100*time.Millisecond)}, "-", "not measured: thumbq failed"},
		{"not measured when a CPU figure is noise", vipsTarget,
			[]measurement{ms12(ours, 20*time.Millisecond), ms12("vipsthumbnail", -time.Millisecond)}, "-", "not measured: a CPU figure is not above noise"},
		{"memory met at 80 MB above idle", memTarget,
			[]measurement{{Input: "jpeg-50mp.jpg", Tool: ours, Peak: 90 << 20, Idle: 10 << 20}}, "80 MB", "met"},
		{"memory missed at 81 MB above idle", memTarget,
			[]measurement{{Input: "jpeg-50mp.jpg", Tool: ours, Peak: 91 << 20, Idle: 10 << 20}}, "81 MB", "**missed**"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, verdict := verdict(tt.t, tt.ms)
			if got != tt.got || verdict != tt.want {
				t.Errorf("verdict(%s) = %q, %q; want %q, %q", tt.t.Text, got, verdict, tt.got, tt.want)
			}
		})
	}
}

func TestMarkdownShowsRatiosVerdictsAndFailures(t *testing.T) {
	r := report{Env: env{Date: "2026-11-23 23:00 UTC", Machine: "x86_64", CPU: "AMD EPYC, 2 CPUs", Go: "go1.26", Commit: "abc123",
		Command: "make bench", Tools: []string{"vips-8.14.1"}, LoadStart: "0.52", LoadEnd: "1.90"},
		Engine: []measurement{
			ms12(ours, 60*time.Millisecond),
			ms12("vipsthumbnail", 30*time.Millisecond),
			{Input: "jpeg-12mp.jpg", Tool: "ffmpeg", Err: os.ErrPermission},
			{Input: "heic-12mp.heic", Tool: ours, Err: os.ErrInvalid},
			{Input: "heic-12mp.heic", Tool: "ffmpeg", Err: cannotRead{Format: "HEIC", Err: os.ErrInvalid}},
		},
		Pipeline: &pipelineResult{Photo: "photo.jpg", Runs: []pipelineRun{
			{Workers: 2, Images: 40, Burst: true, PerSecond: 12.5, P50: 80 * time.Millisecond, P99: 150 * time.Millisecond}}},
	}
	md := r.markdown()
	for _, want := range []string{
		"Measured 2026-11-23 23:00 UTC on x86_64 (AMD EPYC, 2 CPUs), go1.26, thumbq abc123; vips-8.14.1.",
		"Load average 0.52 at the start, 1.90 at the end",
		"Command: `make bench`.",
		"| jpeg-12mp.jpg | **thumbq** | 60 | 50 | 10 | 40 |  |  |",
		"|  | vipsthumbnail | 30 | 50 | 10 | 40 | 2.00 | 1.00 |",
		"|  | ffmpeg | failed: permission denied |",
		"| CPU per image at most 1.5x vipsthumbnail's | jpeg-12mp.jpg | 2.00x | **missed** |",
		"| not measured: no ffmpeg figure |",
		"| 2 | 40 | all at once | 12.5 | 80 | 150 |",
		"|  | ffmpeg | cannot read HEIC (fails on a 16x16 one): not timed |",
		"- jpeg-12mp.jpg: 12 MP baseline JPEG",
		"- heic-12mp.heic: the same HEIC without a thumbnail item. thumbq decodes",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "jpeg-50mp") || strings.Contains(md, "avif-12mp") {
		t.Errorf("markdown shows a target for an input that was not measured:\n%s", md)
	}
}

func TestReplaceSection(t *testing.T) {
	doc := "# T\n\nbefore\n" + beginMarker + "\nold table\n" + endMarker + "\nafter\n"
	got, err := replaceSection(doc, "new table\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "# T\n\nbefore\n" + beginMarker + "\nnew table\n" + endMarker + "\nafter\n"
	if got != want {
		t.Errorf("replaceSection =\n%s\nwant\n%s", got, want)
	}
	if _, err := replaceSection("# T\nno markers\n", "x"); err == nil {
		t.Error("replaceSection of a document without markers: no error")
	}
}

func TestFFmpegReadsTheCopiesAsOneSequence(t *testing.T) {
	var ff tool
	for _, tl := range referenceTools() {
		if tl.Name == "ffmpeg" {
			ff = tl
		}
	}
	args := strings.Join(ff.Args([]string{"/b/many/in000.jpg", "/b/many/in001.jpg"}, "/b/out", defaultSizes), " ")
	if !strings.Contains(args, "-start_number 0 -i /b/many/in%03d.jpg ") || !strings.HasSuffix(args, " /b/out/out%03d.png") {
		t.Errorf("ffmpeg args = %s; want the image2 sequence /b/many/in%%03d.jpg from 0 into /b/out/out%%03d.png", args)
	}
}

// A tool is judged by what it wrote: one PNG per file, of the right size.
func TestRunToolChecksTheThumbnails(t *testing.T) {
	dir := t.TempDir()
	tiny, err := ensureTiny(dir)
	if err != nil {
		t.Fatal(err)
	}
	files, err := copies(tiny, filepath.Join(dir, "in"), 2)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	// cp stands in for a tool: it "makes" 16x16 thumbnails by copying the 16x16 inputs.
	cp := tool{Name: "cp", Bin: "cp", Args: func(files []string, out string, _ []fit.Box) []string { return append(slices.Clone(files), out) }}
	cpPerSize := cp
	cpPerSize.OneSizePerRun = true
	// sh makes every size in one run, each into out/<prefix>/, as thumbq -sizes does.
	sh := tool{Name: "sh", Bin: "sh", Args: func(files []string, out string, sizes []fit.Box) []string {
		script := ""
		for _, b := range sizes {
			dir := filepath.Join(out, b.Prefix())
			script += "mkdir " + shellQuote(dir) + " && cp " + strings.Join(files, " ") + " " + shellQuote(dir) + " && "
		}
		return []string{"-c", script + "true"}
	}}
	nothing := tool{Name: "true", Bin: "true", Args: func([]string, string, []fit.Box) []string { return nil }}
	fails := tool{Name: "false", Bin: "false", Args: func([]string, string, []fit.Box) []string { return nil }}
	one := defaultSizes
	two := fit.MustParse("8x8,16x16:cover")
	tests := []struct {
		name    string
		tool    tool
		sizes   []fit.Box
		want    []size
		wantErr string
	}{
		{"a tool that makes every thumbnail at the size wanted is measured", cp, one, []size{{16, 16}}, ""},
		{"a size within a pixel passes (tools round differently)", cp, one, []size{{17, 15}}, ""},
		{"any size passes when none is wanted (the idle run)", cp, one, nil, ""},
		{"a tool that writes nothing has failed", nothing, one, []size{{64, 48}}, "made 0 thumbnails of 2 files"},
		{"a tool that writes the wrong size has failed", cp, one, []size{{64, 48}}, "is 16x16; want 64x48"},
		{"a tool that exits non-zero has failed", fails, one, []size{{64, 48}}, "exit status 1"},
		{"a tool making one size per run makes each size's folder", cpPerSize, two, []size{{16, 16}, {16, 16}}, ""},
		{"a tool making every size in one run makes each size's folder", sh, two, []size{{16, 16}, {16, 16}}, ""},
		{"a tool that writes several sizes outside their folders has failed", cp, two, []size{{16, 16}, {16, 16}}, "made 0 thumbnails of 2 files"},
		{"each size is checked against its own size", sh, two, []size{{16, 16}, {8, 8}}, "is 16x16; want 8x8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.MkdirAll(out, 0o755)
			os.WriteFile(filepath.Join(out, "stale.png"), []byte("from an earlier run"), 0o644)
			s, err := runTool(t.Context(), tt.tool, files, out, tt.sizes, tt.want)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("runTool: %v", err)
				}
				if s.MaxRSS <= 0 || s.CPU < 0 || s.Wall <= 0 {
					t.Errorf("runTool: max RSS %d, CPU %v, wall %v; want the child's, above 0", s.MaxRSS, s.CPU, s.Wall)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("runTool = %v; want an error with %q", err, tt.wantErr)
			}
		})
	}
}

func TestCopiesAreNamedAsASequence(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.jpg")
	os.WriteFile(src, []byte("x"), 0o644)
	got, err := copies(src, filepath.Join(dir, "k"), 3)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range got {
		if want := filepath.Join(dir, "k", []string{"in000.jpg", "in001.jpg", "in002.jpg"}[i]); p != want {
			t.Errorf("copy %d = %s; want %s", i, p, want)
		}
		if b, err := os.ReadFile(p); err != nil || string(b) != "x" {
			t.Errorf("copy %s = %q, %v; want the source's bytes", p, b, err)
		}
	}
}

// The pipeline run goes through the emulated stack end to end and times every upload once.
func TestRunPipelineTimesEveryUpload(t *testing.T) {
	data, err := os.ReadFile("../samples/mountain-panorama.jpg")
	if err != nil {
		t.Fatal(err)
	}
	for _, burst := range []bool{true, false} {
		r, err := runPipeline(t.Context(), "benchtest", data, 2, 3, burst)
		if err != nil {
			t.Fatalf("runPipeline(burst %v): %v", burst, err)
		}
		if len(r.latencies) != 3 || r.PerSecond <= 0 || r.P50 <= 0 || r.P99 < r.P50 {
			t.Errorf("runPipeline(burst %v) = %d latencies, %.1f/s, p50 %v, p99 %v; want 3, above 0, p99 >= p50 > 0",
				burst, len(r.latencies), r.PerSecond, r.P50, r.P99)
		}
	}
}
