package local

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
)

// marker names the file that marks a folder as thumbq local's output, so that the next run knows
// what it may clear.
const marker = ".thumbq-local"

// thumbnailFolder matches the folders thumbnails are written to: <W>x<H>, as in the bucket.
var thumbnailFolder = regexp.MustCompile(`^[0-9]+x[0-9]+$`)

// PrepareOut readies dir for a run or a serve: it creates it, or clears what an earlier thumbq
// local wrote there (the <W>x<H> thumbnail folders, notifications/, report.json, worker.log), so
// that what the folder holds afterwards is this run's alone. It returns the names it removed. A
// folder that holds other files and was not written by thumbq local is left alone, with an
// error: nothing of the user's is removed.
func PrepareOut(dir string) (removed []string, err error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		return nil, os.WriteFile(filepath.Join(dir, marker), nil, 0o644)
	}
	if err != nil {
		return nil, err
	}
	ours := map[string]bool{}
	owned := false // the folder was written by thumbq local
	others := 0    // entries that are not thumbq local's
	for _, e := range entries {
		switch name := e.Name(); {
		case name == marker:
			owned = true
		case name == "report.json" || name == "worker.log":
			ours[name] = true
			owned = true // a run from before the marker
		case e.IsDir() && (name == "notifications" || thumbnailFolder.MatchString(name)):
			ours[name] = true
		case e.IsDir() && exists(filepath.Join(dir, name, marker)):
			// Another output folder inside this one (make serve's out/serve in make run's out):
			// kept, and no reason to refuse this one.
		default:
			others++
		}
	}
	if others+len(ours) > 0 && !owned {
		return nil, fmt.Errorf("%s holds files that thumbq local did not write; to keep them apart, choose an empty or new folder (-out, make run OUT=...)", dir)
	}
	for name := range ours {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return removed, fmt.Errorf("clear %s: %w", dir, err)
		}
		if name == "notifications" || thumbnailFolder.MatchString(name) {
			name += "/"
		}
		removed = append(removed, name)
	}
	sort.Strings(removed)
	return removed, os.WriteFile(filepath.Join(dir, marker), nil, 0o644)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
