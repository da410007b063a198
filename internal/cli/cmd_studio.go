package cli

import (
	"context"
	"fmt"
	"net"

	"github.com/facesynth/facesynth/internal/assets"
	"github.com/facesynth/facesynth/internal/studio"
)

func init() {
	register(command{"studio", "a local web studio: run swap, talk, reenact and verify from the browser", runStudio})
}

func runStudio(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "studio", "[--addr 127.0.0.1:7860] [--work DIR] [--allow-remote]")
	addr := fs.String("addr", studio.DefaultAddr, "address to listen on (loopback unless --allow-remote)")
	work := fs.String("work", "facesynth-studio", "folder for uploads, jobs and results; a restarted studio shows them again")
	allowRemote := fs.Bool("allow-remote", false, "allow a non-loopback --addr: anyone who reaches it can upload files and run jobs")
	workers := fs.Int("jobs", 1, "jobs run at once (each uses every core)")
	maxUpload := fs.Int64("max-upload-mb", studio.DefaultMaxUpload>>20, "largest upload in MiB")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("unexpected arguments %v", pos)
	}
	if *workers < 1 || *workers > 64 || *maxUpload < 1 {
		return usagef("--jobs wants 1..64 and --max-upload-mb at least 1")
	}
	if err := studio.CheckAddr(*addr, *allowRemote); err != nil {
		return &UsageError{err.Error()}
	}
	s, err := studio.New(studio.Config{Work: *work, Workers: *workers, MaxUpload: *maxUpload << 20,
		AllowRemote: *allowRemote, Samples: assets.MediaDir()})
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		s.Close()
		return fmt.Errorf("studio: %w", err)
	}
	fmt.Fprintf(env.Stdout, "studio: http://%s/ (work folder %s; Ctrl-C stops it, jobs resume on the next start)\n", l.Addr(), *work)
	return s.Serve(ctx, l)
}
