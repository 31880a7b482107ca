package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go
)

// openSQLite opens (creating) a SQLite database in WAL mode with synchronous=FULL, so that a
// committed transaction survives a crash of the process or the machine, and a busy timeout so
// that concurrent writers queue instead of failing.
func openSQLite(ctx context.Context, path string) (Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("creating the directory of %s: %w", path, err)
		}
	}
	params := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(1)"} {
		params.Add("_pragma", p)
	}
	params.Set("_txlock", "immediate") // writers take the lock at BEGIN: no upgrade deadlocks
	db, err := sql.Open("sqlite", "file:"+path+"?"+params.Encode())
	if err != nil {
		return nil, err
	}
	// One writer at a time is all SQLite allows; a few connections let readers run beside it.
	db.SetMaxOpenConns(4)
	// Connections stay open: each holds the statements prepared on it (database/sql keeps two
	// idle by default and closes the others, which SQLite then parses again).
	db.SetMaxIdleConns(4)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if err := migrate(ctx, db, goose.DialectSQLite3); err != nil {
		db.Close()
		return nil, err
	}
	return &sqlStore{db: db, sqlite: true, slots: 1}, nil
}

// postgresSlots spread each aggregate cell over this many rows on PostgreSQL, where concurrent
// transactions updating one row wait for each other's commit.
const postgresSlots = 32

// openPostgres opens a PostgreSQL database through pgx.
func openPostgres(ctx context.Context, rawURL string) (Store, error) {
	db, err := sql.Open("pgx", rawURL)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16) // each keeps its cache of prepared statements
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to %s: %w", redact(rawURL), err)
	}
	if err := migrate(ctx, db, goose.DialectPostgres); err != nil {
		db.Close()
		return nil, err
	}
	return &sqlStore{db: db, slots: postgresSlots}, nil
}
