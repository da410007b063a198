// Command facesynth detects, aligns, swaps and animates faces, and labels
// everything it generates. All logic lives in internal/; see internal/cli.
package main

import (
	"os"

	"github.com/facesynth/facesynth/internal/cli"
	"github.com/facesynth/facesynth/internal/torch"
)

func main() {
	torch.PassiveOpenMP()
	os.Exit(cli.Main(os.Args[1:]))
}
