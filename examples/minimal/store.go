package main

import (
	"context"
	"fmt"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/memory"
)

const storeFlagHelp = `where to keep the attendance: "memory"`

// openStore opens the store named by the -db flag.
func openStore(_ context.Context, db string) (attendance.Store, func(), error) {
	switch db {
	case "memory", "":
		return memory.New(), func() {}, nil
	}
	return nil, nil, fmt.Errorf("minimal: unknown -db %q", db)
}
