package main

import (
	"context"
	"strings"
	"time"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/memory"
	"github.com/mosiachat/mosiachat/storage/postgres"
	"github.com/mosiachat/mosiachat/storage/sqlite"
)

const storeFlagHelp = `where to keep the attendance: "memory", a SQLite file path (e.g. ./chat.db), or a PostgreSQL URL (postgres://...)`

// openStore opens the store named by the -db flag.
func openStore(ctx context.Context, db string) (attendance.Store, func(), error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	switch {
	case db == "memory" || db == "":
		return memory.New(), func() {}, nil
	case strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://"):
		s, err := postgres.Open(ctx, db, nil)
		if err != nil {
			return nil, nil, err
		}
		return s, func() { _ = s.Close() }, nil
	default:
		s, err := sqlite.Open(ctx, db, nil)
		if err != nil {
			return nil, nil, err
		}
		return s, func() { _ = s.Close() }, nil
	}
}
