// Package testmedia gives tests the real sample media fetched by
// scripts/fetch-media.sh. A missing file fails the test with the command
// that fetches it: tests on real media must not pass by skipping.
package testmedia

import (
	"path/filepath"
	"testing"

	"github.com/facesynth/facesynth/internal/assets"
)

// Path returns the path of a sample-media file or fails the test.
func Path(t testing.TB, name string) string {
	t.Helper()
	p, err := assets.Media(name)
	if err != nil {
		t.Fatalf("%v: run `bash scripts/fetch-media.sh` first", err)
	}
	return p
}

// Reference is the path of a dlib reference JSON in testdata/faces/.
func Reference(t testing.TB, name string) string {
	t.Helper()
	root := assets.RepoRoot()
	if root == "" {
		t.Fatal("testmedia: not inside the facesynth repository")
	}
	return filepath.Join(root, "testdata", "faces", name)
}

// ReferenceImages are the stems of the images with dlib reference JSON.
var ReferenceImages = []string{
	"astronaut", "face_swapped",
	"franck_f0000", "franck_f0500", "franck_f1000", "franck_f1500", "franck_f2000",
	"franck_f2500", "franck_f3000", "franck_f3500", "franck_f4000", "franck_f4500",
}
