// Package cli is facesynth's command line: one file per subcommand, each a
// thin layer that parses flags and calls the package that does the work.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// Env is what a command reads and writes besides its arguments, so tests can
// run commands in-process.
type Env struct {
	Stdout, Stderr io.Writer
}

// command is one subcommand: its name, a line for the help listing, and the
// function that runs it.
type command struct {
	name, summary string
	run           func(ctx context.Context, env *Env, args []string) error
}

var commands = map[string]command{}

func register(c command) { commands[c.name] = c }

// UsageError is a mistake on the command line: exit status 2.
type UsageError struct{ msg string }

func (e *UsageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &UsageError{fmt.Sprintf(format, a...)} }

// exitCode is a result rather than a failure: a command that has printed
// its answer returns it to exit with that status and no error line
// (verify's 3, "no watermark found").
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// Main runs facesynth with args and returns the exit status: 0 success, 1 a
// failure, 2 a usage error, 3 verify's "no watermark found", 130 interrupted (SIGINT/SIGTERM cancel the
// context, so subprocesses are killed and partial outputs removed).
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, &Env{Stdout: os.Stdout, Stderr: os.Stderr}, args)
}

// Run is Main with an explicit context and streams.
func Run(ctx context.Context, env *Env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printHelp(env.Stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "facesynth: unknown command %q (see facesynth help)\n", args[0])
		return 2
	}
	err := c.run(ctx, env, args[1:])
	var code exitCode
	switch {
	case err == nil:
		return 0
	case errors.As(err, &code):
		return int(code)
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		fmt.Fprintf(env.Stderr, "facesynth %s: interrupted\n", c.name)
		return 130
	}
	fmt.Fprintf(env.Stderr, "facesynth %s: %s\n", c.name, oneLine(err.Error()))
	var u *UsageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// oneLine keeps error output to a single line: multi-line tool output
// belongs in logs, not in the message a user reads first.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "facesynth: face detection, alignment, swap, talking heads and re-enactment; every generated frame is labelled.")
	fmt.Fprintln(w, "\nUsage: facesynth COMMAND [flags] [args]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'facesynth COMMAND -h' for a command's flags.")
}

// newFlags makes a FlagSet whose errors and usage go to env.Stderr.
func newFlags(env *Env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: facesynth %s %s\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags that may come before, between or after positional
// arguments (`facesynth detect IMAGE --json`), which the flag package alone
// does not allow, and returns the positionals.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &UsageError{err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
