package store

import (
	"context"
	"strings"

	"github.com/pressly/goose/v3"
)

// SummarizeByScan is Summarize computed from the stored rows rather than the maintained
// aggregates: the recount the tests hold them to.
func SummarizeByScan(ctx context.Context, s Store, campaignUID, waveID, primary string) (Summary, error) {
	return s.(*sqlStore).summarizeByScan(ctx, campaignUID, waveID, primary)
}

// Remigrate takes a store's schema down to version, then up again: what the migrations
// after version do to the rows already stored.
func Remigrate(ctx context.Context, s Store, version int64) error {
	st := s.(*sqlStore)
	dialect := goose.DialectPostgres
	if st.sqlite {
		dialect = goose.DialectSQLite3
	}
	p, err := migrations(st.db, dialect)
	if err != nil {
		return err
	}
	if _, err := p.DownTo(ctx, version); err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// PostgresSlots is how many rows each aggregate cell is spread over on PostgreSQL.
const PostgresSlots = postgresSlots

// CommitStats are how many group commits a store made, and the responses they held.
func CommitStats(s Store) (batches, responses int) {
	c := &s.(*sqlStore).commits
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.batches, c.responses
}

// RowsHolding counts, table by table, the rows of which some text column holds exactly value,
// or holds it as a JSON string (a touch-point event's fields):
// where a value is stored anywhere in the database.
func RowsHolding(ctx context.Context, s Store, value string) (map[string]int, error) {
	st := s.(*sqlStore)
	query := `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND data_type = 'text' ORDER BY table_name, column_name`
	if st.sqlite {
		query = `SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
			WHERE m.type = 'table' AND upper(p.type) = 'TEXT' ORDER BY m.name, p.name`
	}
	rows, err := st.db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	columns := map[string][]string{}
	for rows.Next() {
		var table, column string
		if err := rows.Scan(&table, &column); err != nil {
			rows.Close()
			return nil, err
		}
		columns[table] = append(columns[table], column)
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	out := map[string]int{}
	for table, cols := range columns {
		where := make([]string, len(cols))
		for i, c := range cols {
			where[i] = c + " = $1 OR " + c + " LIKE $2" // the value itself, or as a string of JSON (a touch-point event's fields)
		}
		var n int
		if err := st.db.QueryRowContext(ctx, st.q(`SELECT COUNT(*) FROM `+table+` WHERE `+strings.Join(where, " OR ")), value, `%"`+value+`"%`).Scan(&n); err != nil {
			return nil, err
		}
		if n > 0 {
			out[table] = n
		}
	}
	return out, nil
}

// QueryStrings runs a query of one text column on the store's database, as anyone with access
// to the database could.
func QueryStrings(ctx context.Context, s Store, query string, args ...any) ([]string, error) {
	st := s.(*sqlStore)
	rows, err := st.db.QueryContext(ctx, st.q(query), args...)
	if err != nil {
		return nil, err
	}
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, v)
	}
	return out, closeRows(rows)
}

// IsSQLite reports whether the store is SQLite.
func IsSQLite(s Store) bool { return s.(*sqlStore).sqlite }
