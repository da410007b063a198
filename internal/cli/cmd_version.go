package cli

import (
	"context"
	"fmt"
	"runtime/debug"
)

func init() {
	register(command{"version", "print the version", func(ctx context.Context, env *Env, args []string) error {
		v := "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok {
			v = bi.Main.Version
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" && len(s.Value) >= 12 {
					v += " " + s.Value[:12]
				}
			}
		}
		fmt.Fprintln(env.Stdout, "facesynth", v)
		return nil
	}})
}
