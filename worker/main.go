// Command thumbq is the thumbq worker and its tools: one binary with subcommands.
//
//	thumbq work        consume the work queue (what the container runs)
//	thumbq local       the whole pipeline on embedded emulated S3/SQS/SNS
//	thumbq thumbnail   make thumbnails of local files
//	thumbq status      queue depth, in flight, age of the oldest message, dead letters
//	thumbq redrive     move dead letters back to the work queue
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
)

type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands is filled by the cmd_*.go files; cmd_local.go is left out of builds tagged nolocal.
var commands = map[string]command{}

// errUsage marks an error whose message was already printed with the usage.
var errUsage = errors.New("usage")

// errInterrupted marks a command stopped by Ctrl-C or SIGTERM that has said what it left undone.
var errInterrupted = errors.New("interrupted")

// errVersion asks run to print the version: every command takes -version.
var errVersion = errors.New("version")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-version" || args[0] == "--version" || args[0] == "version") {
		fmt.Fprintln(stdout, versionLine())
		return 0
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "thumbq: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	err := cmd.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errVersion):
		fmt.Fprintln(stdout, versionLine())
		return 0
	case errors.Is(err, errInterrupted):
		return 130
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(stderr, "thumbq %s: %v\n", args[0], err)
		return 1
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "thumbq makes thumbnails of images uploaded to S3: an S3 upload event reaches an SQS")
	fmt.Fprintln(w, "queue; the worker makes a PNG thumbnail, stores it, presigns a link and notifies SNS.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: thumbq <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]string, 0, len(commands))
	for name, c := range commands {
		if c.summary != "" { // a command without a summary is internal (decode-heif)
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-10s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'thumbq <command> --help' for a command's flags and configuration, 'thumbq --version'")
	fmt.Fprintln(w, "(or the -version flag of any command) for the version and commit.")
}

// newFlags returns a flag set that prints its usage, headed by the command's description, on
// --help, and returns errUsage on a bad flag. Every command's set has -version.
func newFlags(name, synopsis, description string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Bool("version", false, "print thumbq's version and commit, and exit")
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: thumbq %s %s\n\n%s\n", name, synopsis, strings.TrimSpace(description))
		var any bool
		fs.VisitAll(func(*flag.Flag) { any = true })
		if any {
			fmt.Fprintln(out, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if v := fs.Lookup("version"); v != nil && v.Value.String() == "true" {
		return errVersion
	}
	return nil
}

// version is set at link time by builds that know it (-ldflags "-X main.version=v1.2.3").
var version = ""

// linkedCommit is set at link time where the build has no VCS information to record: the
// container image, whose build context has no .git, gets it from the stack (-ldflags
// "-X main.linkedCommit=...", the Dockerfile's THUMBQ_COMMIT).
var linkedCommit = ""

// versionLine names the version, the commit the binary was built from and the Go release, from
// what the go command records in the binary (a build in the git checkout records the commit;
// go run and builds outside it do not).
func versionLine() string {
	v, commit, when, modified := version, linkedCommit, "", false
	info, ok := debug.ReadBuildInfo()
	if ok {
		if v == "" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	line := "thumbq " + v
	switch {
	case commit == "":
		line += ", commit unknown (built without VCS information, e.g. by go run: make build records it)"
	default:
		line += ", commit " + commit
		if when != "" {
			line += " of " + when
		}
		if modified {
			line += " with uncommitted changes"
		}
	}
	return line + ", " + runtime.Version()
}

// plural picks the word for n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
