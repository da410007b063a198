// Package fsutil writes files atomically: the data goes to a temporary file
// beside the target, is flushed to disk, and is renamed over the target only
// when complete. A reader (or a crash) therefore sees either the old file or
// the whole new one, never a half-written file under the target's name.
package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// File is a temporary file that becomes its target on Commit. It embeds the
// open *os.File, so it can be written to directly; Name() is the temporary
// path (useful to hand to a subprocess that writes the file itself).
type File struct {
	*os.File
	target string

	mu   sync.Mutex
	done bool // committed or aborted; further calls are no-ops
}

// CreateTemp creates an empty temporary file in the directory of path, with
// mode 0666 less the umask (like os.Create). The caller writes it and then
// calls Commit to move it onto path, or Abort to throw it away.
func CreateTemp(path string) (*File, error) {
	return createTemp(path, 0o666)
}

func createTemp(path string, perm fs.FileMode) (*File, error) {
	if path == "" {
		return nil, errors.New("fsutil: empty file name")
	}
	dir, base := filepath.Split(path)
	if base == "" || base == "." || base == ".." {
		return nil, fmt.Errorf("fsutil: %q names a directory, not a file", path)
	}
	if dir == "" {
		dir = "."
	}
	// The name starts with a dot so directory listings and globs skip it,
	// and it keeps the target's name so a leftover is easy to attribute.
	// O_EXCL makes a name collision retry instead of sharing a file; opening
	// with perm (not os.CreateTemp's fixed 0600) lets the kernel apply the
	// umask, so the committed file gets the mode the user expects.
	for range 100 {
		name := filepath.Join(dir, "."+base+".tmp"+strconv.FormatUint(rand.Uint64()%1e12, 10))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("fsutil: create temporary file for %s: %w", path, err)
		}
		return &File{File: f, target: path}, nil
	}
	return nil, fmt.Errorf("fsutil: create temporary file for %s: no free name", path)
}

// Target is the path the file will have after Commit.
func (f *File) Target() string { return f.target }

// Commit flushes the file to disk, closes it and renames it onto the target,
// replacing any file there, then flushes the directory so the rename itself
// survives a crash. On any error the temporary file is removed and the target
// is left as it was. Commit after Commit or Abort does nothing.
func (f *File) Commit() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return nil
	}
	f.done = true
	tmp := f.File.Name()
	if err := f.File.Sync(); err != nil {
		f.File.Close()
		os.Remove(tmp)
		return fmt.Errorf("fsutil: flush %s: %w", f.target, err)
	}
	if err := f.File.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("fsutil: close %s: %w", f.target, err)
	}
	if err := os.Rename(tmp, f.target); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("fsutil: %w", err)
	}
	syncDir(filepath.Dir(f.target))
	return nil
}

// Abort closes and removes the temporary file; the target is untouched.
// Abort after Commit or Abort does nothing, so it is safe to defer.
func (f *File) Abort() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return nil
	}
	f.done = true
	f.File.Close()
	if err := os.Remove(f.File.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("fsutil: %w", err)
	}
	return nil
}

// WriteFile writes data to path atomically with permissions perm (before the
// umask), like os.WriteFile but never leaving a partial file at path.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	f, err := createTemp(path, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Abort()
		return fmt.Errorf("fsutil: write %s: %w", path, err)
	}
	return f.Commit()
}

// syncDir flushes a directory entry to disk. It is best effort: the rename
// has already happened, and some file systems refuse fsync on directories,
// so a failure here must not make a complete write look failed.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}
