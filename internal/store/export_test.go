package store

import (
	"context"

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
