package rules

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// Migration is one embedded schema step of a SQL store.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the migrations in directory dir of fsys in version
// order. Their file names start with the version number, from 1 with no
// gap: 0001_init.sql.
func Migrations(prefix string, fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v != len(out)+1 {
			return nil, fmt.Errorf("%s: bad migration file name %q", prefix, e.Name())
		}
		b, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	return out, nil
}
