// Package assets finds the data files facesynth reads at run time: model
// files shipped by Debian packages or pinned Go modules, and the sample media
// that scripts/fetch-media.sh downloads. Nothing is downloaded at run time.
package assets

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// ErrNotFound is wrapped by every lookup that found nothing.
var ErrNotFound = errors.New("not found")

// ShapePredictor is dlib's 68-point model from Debian's libdlib-data, or the
// file named by FACESYNTH_SHAPE_PREDICTOR.
func ShapePredictor() (string, error) {
	return first("dlib 68-point shape predictor (install Debian package libdlib-data)",
		os.Getenv("FACESYNTH_SHAPE_PREDICTOR"),
		"/usr/share/dlib/shape_predictor_68_face_landmarks.dat")
}

// ModuleFile finds a file inside a pinned Go module's source tree in the
// module cache (where `go build` put it), e.g. ModuleFile("github.com/esimov/pigo",
// "v1.4.6", "cascade/facefinder").
func ModuleFile(module, version, rel string) (string, error) {
	what := fmt.Sprintf("%s in Go module %s@%s (run `go mod download %s`)", rel, module, version, module)
	var cands []string
	for _, dir := range modCaches() {
		cands = append(cands, filepath.Join(dir, escapeModule(module)+"@"+version, rel))
	}
	return first(what, cands...)
}

// MediaDir is the sample-media cache: FACESYNTH_MEDIA, or .cache/media in the
// repository that contains the working directory.
func MediaDir() string {
	if d := os.Getenv("FACESYNTH_MEDIA"); d != "" {
		return d
	}
	if root := RepoRoot(); root != "" {
		return filepath.Join(root, ".cache", "media")
	}
	return filepath.Join(".cache", "media")
}

// Media is the path of one sample-media file, checked to exist.
func Media(name string) (string, error) {
	return first(name+" (run scripts/fetch-media.sh)", filepath.Join(MediaDir(), name))
}

// RepoRoot walks up from the working directory to the folder holding
// facesynth's go.mod; "" outside the repository.
func RepoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.Contains(string(b), "module github.com/facesynth/facesynth") {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

func first(what string, cands ...string) (string, error) {
	for _, c := range cands {
		if c == "" {
			continue
		}
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() {
			return c, nil
		}
	}
	return "", fmt.Errorf("assets: %s: %w", what, ErrNotFound)
}

var (
	modCacheOnce sync.Once
	modCacheDirs []string
)

func modCaches() []string {
	modCacheOnce.Do(func() {
		if d := os.Getenv("GOMODCACHE"); d != "" {
			modCacheDirs = append(modCacheDirs, d)
		}
		if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
			if d := strings.TrimSpace(string(out)); d != "" {
				modCacheDirs = append(modCacheDirs, d)
			}
		}
		if gp := os.Getenv("GOPATH"); gp != "" {
			modCacheDirs = append(modCacheDirs, filepath.Join(gp, "pkg", "mod"))
		}
		if home, err := os.UserHomeDir(); err == nil {
			modCacheDirs = append(modCacheDirs, filepath.Join(home, "go", "pkg", "mod"))
		}
	})
	return modCacheDirs
}

// escapeModule applies the module cache's case encoding ("!" before an
// upper-case letter, which is then lowered).
func escapeModule(m string) string {
	var b strings.Builder
	for _, r := range m {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
