package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dirNames lists a directory, hidden temporary files included.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFileReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.json")
	if err := WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("new contents"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "new contents" {
		t.Fatalf("content %q, want %q", got, "new contents")
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if names := dirNames(t, dir); len(names) != 1 || names[0] != "out.json" {
		t.Errorf("directory holds %v, want only out.json", names)
	}
}

func TestTargetUnchangedUntilCommit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.txt")
	if err := os.WriteFile(path, []byte("before"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := CreateTemp(path)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(f.Name()) != dir || !strings.HasPrefix(filepath.Base(f.Name()), ".a.txt.tmp") {
		t.Errorf("temporary file %s is not a hidden sibling of %s", f.Name(), path)
	}
	if f.Target() != path {
		t.Errorf("Target %s, want %s", f.Target(), path)
	}
	f.WriteString("after")
	if got, _ := os.ReadFile(path); string(got) != "before" {
		t.Fatalf("target changed before Commit: %q", got)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "after" {
		t.Fatalf("after Commit target holds %q, want %q", got, "after")
	}
	// Abort after Commit must not delete the committed file.
	if err := f.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("Abort after Commit removed the target: %v", err)
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Errorf("directory holds %v, want only a.txt", names)
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "b.bin")
	f, err := CreateTemp(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, 1000))
	if err := f.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(); err != nil { // no-op after Abort
		t.Fatal(err)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("directory holds %v after Abort, want nothing", names)
	}
}

func TestWriteFileErrors(t *testing.T) {
	dir := t.TempDir()
	err := WriteFile(filepath.Join(dir, "missing", "x.txt"), []byte("x"), 0o644)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("write into a missing directory: %v, want fs.ErrNotExist", err)
	}
	// A directory in the way: the rename fails and the temporary file goes.
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err = WriteFile(filepath.Join(dir, "sub"), []byte("x"), 0o644)
	if err == nil {
		t.Error("writing over a non-empty directory succeeded")
	}
	for _, err := range []error{
		WriteFile("", nil, 0o644),
		WriteFile(dir+"/", nil, 0o644),
	} {
		if err == nil || !strings.HasPrefix(err.Error(), "fsutil: ") {
			t.Errorf("bad name: error %v, want an fsutil error", err)
		}
	}
	if names := dirNames(t, dir); len(names) != 1 || names[0] != "sub" {
		t.Errorf("directory holds %v, want only sub", names)
	}
}
