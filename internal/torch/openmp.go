package torch

import (
	"os"
	"syscall"
)

// PassiveOpenMP makes sure this process runs with OMP_WAIT_POLICY=passive,
// re-executing itself with it set if it is not (an explicit setting is
// left alone). By default libgomp's threads spin for a while after each
// parallel region; on a machine shared with other work (ffmpeg encoding
// beside us, other jobs) the spinning threads take the cores the working
// ones need, and training on 2 shared cores ran 3–5× slower (light
// network: 19–34 img/s spinning, 90–93 passive, same minute). libgomp
// reads the variable once, when it is loaded, before main runs, so setting
// it from Go is too late: the process must start with it. Call this first
// thing in main; it returns only if no re-exec was needed or possible.
func PassiveOpenMP() {
	if _, set := os.LookupEnv("OMP_WAIT_POLICY"); set {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	env := append(os.Environ(), "OMP_WAIT_POLICY=passive")
	_ = syscall.Exec(exe, os.Args, env) // on failure, carry on spinning
}
