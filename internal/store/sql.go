package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/surveyops/survey-operator/internal/scoring"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// sqlStore is the Store over database/sql; the dialect only rebinds placeholders.
type sqlStore struct {
	db     *sql.DB
	sqlite bool
	// writeMu queues SQLite's writers in the process: SQLite admits one writer at a time, and
	// its busy handler would otherwise make waiting writers sleep (tens of milliseconds at p99).
	writeMu sync.Mutex
	// slots spread the maintained aggregates' hot rows (see aggregates.go): 1 on SQLite.
	slots int
	// nextSlot turns the slots of the writes that are not batches of responses.
	nextSlot atomic.Uint32

	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt

	commits committer
	// events group-commits touch-point events (events.go).
	events group[*pendingEvents]

	wavesMu sync.Mutex
	waves   map[WaveRef]Wave

	// rules caches each campaign's follow-up rules (followups.go); rulesGeneration counts the
	// changes, so that rules read before one are not cached after it.
	rulesMu         sync.Mutex
	rules           map[string]cachedRules
	rulesGeneration uint64
}

// writing runs fn holding the SQLite writer lock (PostgreSQL needs none).
func (s *sqlStore) writing(fn func() error) error {
	if s.sqlite {
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
	}
	return fn()
}

var placeholder = regexp.MustCompile(`\$(\d+)`)

// q adapts a query written with $1, $2 placeholders to the database: SQLite takes ?1, ?2.
func (s *sqlStore) q(query string) string {
	if s.sqlite {
		return placeholder.ReplaceAllString(query, "?$1")
	}
	return query
}

func migrate(ctx context.Context, db *sql.DB, dialect goose.Dialect) error {
	p, err := migrations(db, dialect)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrating the store: %w", err)
	}
	return nil
}

// migrations is the provider of the store's migrations on a database.
func migrations(db *sql.DB, dialect goose.Dialect) (*goose.Provider, error) {
	dir, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var opts []goose.ProviderOption
	if dialect == goose.DialectPostgres {
		// Several collectors may start together on one database (config/postgres runs two):
		// a session advisory lock lets one migrate while the others wait.
		// Probed every second, for up to five minutes.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, db, dir, opts...)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// stmt returns the statement of a fixed query, prepared once for a SQLite store: SQLite's
// driver keeps no statement cache, so a plain ExecContext parses the SQL again every time (a
// quarter of a response's cost). database/sql prepares it on each connection once. Only
// queries written in the code come here, never ones built from input, so the cache stays
// small. PostgreSQL's driver (pgx) caches the statements of each connection itself, and
// preparing on the store would take a second connection from the pool inside a transaction:
// with every connection in a transaction, none would be left (the helpers below run
// PostgreSQL's queries on the transaction's own connection).
func (s *sqlStore) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if st, ok := s.stmts[query]; ok {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, s.q(query))
	if err != nil {
		return nil, err
	}
	if s.stmts == nil {
		s.stmts = map[string]*sql.Stmt{}
	}
	s.stmts[query] = st
	return st, nil
}

// prepare returns a statement run many times in a transaction: SQLite's from stmt, PostgreSQL's
// prepared on the transaction's connection.
func (s *sqlStore) prepare(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	if !s.sqlite {
		return tx.PrepareContext(ctx, s.q(query))
	}
	st, err := s.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return tx.StmtContext(ctx, st), nil
}

// exec runs a fixed query in a transaction.
func (s *sqlStore) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if !s.sqlite {
		return tx.ExecContext(ctx, s.q(query), args...)
	}
	st, err := s.prepare(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// queryRow runs a fixed query of one row in a transaction (tx nil: outside one).
func (s *sqlStore) queryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) rowScanner {
	switch {
	case !s.sqlite && tx != nil:
		return tx.QueryRowContext(ctx, s.q(query), args...)
	case !s.sqlite:
		return s.db.QueryRowContext(ctx, s.q(query), args...)
	}
	st, err := s.stmt(ctx, query)
	if err != nil {
		return errRow{err}
	}
	if tx != nil {
		st = tx.StmtContext(ctx, st)
	}
	return st.QueryRowContext(ctx, args...)
}

// query runs a fixed query outside a transaction.
func (s *sqlStore) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if !s.sqlite {
		return s.db.QueryContext(ctx, s.q(query), args...)
	}
	st, err := s.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

type rowScanner interface{ Scan(...any) error }

// errRow is a row that could not be queried.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

func (s *sqlStore) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	return s.writing(func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			_ = tx.Rollback()
			return err
		}
		return tx.Commit()
	})
}

func (s *sqlStore) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

func (s *sqlStore) Close() error {
	s.closeCommitter()
	s.stmtMu.Lock()
	for _, st := range s.stmts {
		st.Close()
	}
	s.stmts = nil
	s.stmtMu.Unlock()
	return s.db.Close()
}

func (s *sqlStore) PutWave(ctx context.Context, w Wave) error {
	sum := sha256.Sum256(w.Definition)
	hash := hex.EncodeToString(sum[:])
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`
			INSERT INTO waves (campaign_uid, wave_id, namespace, campaign, definition, definition_hash, opens_at, closes_at, created_at, primary_question, anonymous)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			ON CONFLICT (campaign_uid, wave_id) DO NOTHING`),
			w.CampaignUID, w.WaveID, w.Namespace, w.Campaign, string(w.Definition), hash,
			micros(w.OpensAt), micros(w.ClosesAt), micros(time.Now()), w.PrimaryQuestion, boolInt(w.Anonymous))
		if err != nil {
			return err
		}
		var storedHash, primary string
		var opens, closes int64
		var anonymous int
		err = tx.QueryRowContext(ctx, s.q(`SELECT definition_hash, opens_at, closes_at, primary_question, anonymous FROM waves WHERE campaign_uid = $1 AND wave_id = $2`),
			w.CampaignUID, w.WaveID).Scan(&storedHash, &opens, &closes, &primary, &anonymous)
		if err != nil {
			return err
		}
		if storedHash != hash || opens != micros(w.OpensAt) || closes != micros(w.ClosesAt) || primary != w.PrimaryQuestion || anonymous != boolInt(w.Anonymous) {
			return ErrConflict
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM wave_channel_keys WHERE campaign_uid = $1 AND wave_id = $2`),
			w.CampaignUID, w.WaveID); err != nil {
			return err
		}
		for channel, key := range w.ChannelKeys {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO wave_channel_keys (campaign_uid, wave_id, channel, hmac_key) VALUES ($1, $2, $3, $4)`),
				w.CampaignUID, w.WaveID, channel, hex.EncodeToString(key)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *sqlStore) ChannelKey(ctx context.Context, campaignUID, waveID, channel string) ([]byte, error) {
	var key string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT hmac_key FROM wave_channel_keys WHERE campaign_uid = $1 AND wave_id = $2 AND channel = $3`),
		campaignUID, waveID, channel).Scan(&key)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return hex.DecodeString(key)
}

func (s *sqlStore) GetWave(ctx context.Context, campaignUID, waveID string) (Wave, error) {
	return s.getWave(ctx, nil, campaignUID, waveID)
}

// maxWaves bounds the cache of wave snapshots; past it, it starts again.
const maxWaves = 1024

// getWave reads a wave's snapshot (in a transaction, or outside one when tx is nil). A
// snapshot never changes once registered (PutWave refuses another), so each is read from the
// database once, and the cache keeps only what was found.
func (s *sqlStore) getWave(ctx context.Context, tx *sql.Tx, campaignUID, waveID string) (Wave, error) {
	key := WaveRef{campaignUID, waveID}
	s.wavesMu.Lock()
	w, ok := s.waves[key]
	s.wavesMu.Unlock()
	if ok {
		return w, nil
	}
	w, err := s.readWave(ctx, tx, campaignUID, waveID)
	if err != nil {
		return Wave{}, err
	}
	s.wavesMu.Lock()
	if s.waves == nil || len(s.waves) >= maxWaves {
		s.waves = map[WaveRef]Wave{}
	}
	s.waves[key] = w
	s.wavesMu.Unlock()
	return w, nil
}

func (s *sqlStore) readWave(ctx context.Context, tx *sql.Tx, campaignUID, waveID string) (Wave, error) {
	w := Wave{CampaignUID: campaignUID, WaveID: waveID}
	var def string
	var opens, closes int64
	var anonymous int
	err := s.queryRow(ctx, tx, `
		SELECT namespace, campaign, definition, opens_at, closes_at, primary_question, anonymous FROM waves WHERE campaign_uid = $1 AND wave_id = $2`,
		campaignUID, waveID).Scan(&w.Namespace, &w.Campaign, &def, &opens, &closes, &w.PrimaryQuestion, &anonymous)
	if errors.Is(err, sql.ErrNoRows) {
		return Wave{}, ErrNotFound
	}
	if err != nil {
		return Wave{}, err
	}
	w.Definition, w.OpensAt, w.ClosesAt, w.Anonymous = []byte(def), fromMicros(opens), fromMicros(closes), anonymous == 1
	return w, nil
}

const invitationColumns = `campaign_uid, wave_id, recipient_key, round, namespace, segment, channel, state, attempts, reason, reserved_at, sent_at, updated_at`

func scanInvitation(row interface{ Scan(...any) error }) (Invitation, error) {
	var inv Invitation
	var reserved, updated int64
	var sent sql.NullInt64
	var state string
	err := row.Scan(&inv.CampaignUID, &inv.WaveID, &inv.RecipientKey, &inv.Round, &inv.Namespace, &inv.Segment,
		&inv.Channel, &state, &inv.Attempts, &inv.Reason, &reserved, &sent, &updated)
	inv.State = InvitationState(state)
	inv.ReservedAt, inv.UpdatedAt = fromMicros(reserved), fromMicros(updated)
	if sent.Valid {
		inv.SentAt = fromMicros(sent.Int64)
	}
	return inv, err
}

// reserveRows bounds the rows of one INSERT (10 parameters each, well under both databases' limits).
const reserveRows = 500

// Reserve inserts the invitations not yet in the ledger with one multi-row INSERT per
// reserveRows, whose RETURNING gives the rows it created; only the rows that were there before
// (a rerun's) are read back one by one. The rows come back in the order asked.
func (s *sqlStore) Reserve(ctx context.Context, invs []Invitation, now time.Time) ([]Invitation, error) {
	var out []Invitation
	err := s.inTx(ctx, func(tx *sql.Tx) (err error) {
		out, err = s.reserve(ctx, tx, invs, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// reserve is Reserve within a transaction.
func (s *sqlStore) reserve(ctx context.Context, tx *sql.Tx, invs []Invitation, now time.Time) ([]Invitation, error) {
	out := make([]Invitation, len(invs))
	err := func() error {
		// A new invitation counts as no answer, unless its person already responded, or opted
		// out since it was reserved.
		t, fresh := s.newTally(), map[WaveRef][]string{}
		for start := 0; start < len(invs); start += reserveRows {
			part := invs[start:min(start+reserveRows, len(invs))]
			// Placeholders are written for the database here rather than by q: SQLite looks each
			// numbered one up in a list (quadratic in a statement this size), not a plain "?".
			var values strings.Builder
			args := make([]any, 0, 10*len(part))
			for i, inv := range part {
				if i > 0 {
					values.WriteString(", ")
				}
				p := make([]string, 10)
				for j := range p {
					if p[j] = "?"; !s.sqlite {
						p[j] = fmt.Sprintf("$%d", len(args)+j+1)
					}
				}
				values.WriteString("(" + strings.Join(p[:8], ", ") + ", 0, '', " + p[8] + ", NULL, " + p[9] + ")")
				args = append(args, inv.CampaignUID, inv.WaveID, inv.RecipientKey, inv.Round, inv.Namespace, inv.Segment, inv.Channel,
					string(StateReserved), micros(now), micros(now))
			}
			rows, err := tx.QueryContext(ctx, `INSERT INTO invitations (`+invitationColumns+`) VALUES `+values.String()+`
				ON CONFLICT (campaign_uid, wave_id, recipient_key, round) DO NOTHING RETURNING `+invitationColumns, args...)
			if err != nil {
				return err
			}
			created := make(map[InvitationKey]Invitation, len(part))
			for rows.Next() {
				inv, err := scanInvitation(rows)
				if err != nil {
					rows.Close()
					return err
				}
				created[inv.InvitationKey] = inv
				if inv.Round == 0 {
					w := WaveRef{inv.CampaignUID, inv.WaveID}
					t.disposition(w, inv.Segment, inv.Channel, "", dispNoAnswer)
					fresh[w] = append(fresh[w], inv.RecipientKey)
				}
			}
			if err := rows.Close(); err != nil {
				return err
			}
			if err := rows.Err(); err != nil {
				return err
			}
			var get *sql.Stmt
			for i, inv := range part {
				if row, ok := created[inv.InvitationKey]; ok {
					out[start+i] = row
					continue
				}
				if get == nil {
					if get, err = s.prepare(ctx, tx, `SELECT `+invitationColumns+` FROM invitations
						WHERE campaign_uid = $1 AND wave_id = $2 AND recipient_key = $3 AND round = $4`); err != nil {
						return err
					}
					defer get.Close()
				}
				if out[start+i], err = scanInvitation(get.QueryRowContext(ctx, inv.CampaignUID, inv.WaveID, inv.RecipientKey, inv.Round)); err != nil {
					return err
				}
			}
		}
		for w, keys := range fresh {
			if err := s.refreshDispositions(ctx, tx, w, keys, t); err != nil {
				return err
			}
		}
		return s.apply(ctx, tx, t)
	}()
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *sqlStore) Mark(ctx context.Context, key InvitationKey, state InvitationState, reason string, now time.Time) error {
	return s.MarkMany(ctx, []Outcome{{Key: key, State: state, Reason: reason}}, now)
}

func (s *sqlStore) MarkMany(ctx context.Context, outcomes []Outcome, now time.Time) error {
	for _, o := range outcomes {
		switch o.State {
		case StateSending, StateSent, StateFailed, StateBounced, StateUnknown, StateReserved:
		default:
			return fmt.Errorf("cannot mark an invitation %q", o.State)
		}
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		// Released to reserved only from sending; attempts counts the calls to a channel.
		update, err := s.prepare(ctx, tx, `
			UPDATE invitations SET state = $5, reason = $6, updated_at = $7, sent_at = COALESCE($8, sent_at),
				attempts = CASE WHEN $5 = 'sending' THEN attempts + 1 WHEN attempts = 0 THEN 1 ELSE attempts END
			WHERE campaign_uid = $1 AND wave_id = $2 AND recipient_key = $3 AND round = $4
				AND ($5 <> 'reserved' OR state = 'sending')
			RETURNING namespace, segment, channel, disposition`)
		if err != nil {
			return err
		}
		defer update.Close()
		t := s.newTally()
		for _, o := range outcomes {
			var sentAt any
			if o.State == StateSent || o.State == StateUnknown {
				sentAt = micros(now)
			}
			var namespace, segment, channel, disposition string
			err := update.QueryRowContext(ctx, o.Key.CampaignUID, o.Key.WaveID, o.Key.RecipientKey, o.Key.Round,
				string(o.State), o.Reason, micros(now), sentAt).Scan(&namespace, &segment, &channel, &disposition)
			if errors.Is(err, sql.ErrNoRows) {
				if o.State == StateReserved {
					return ErrNotSending
				}
				return ErrNotFound
			}
			if err != nil {
				return err
			}
			// A bounce says the address does not work: later waves leave it out.
			if o.State == StateBounced {
				if _, err := s.exec(ctx, tx, `INSERT INTO suppressions (namespace, recipient_key, channel, reason, suppressed_at)
					VALUES ($1, $2, $3, $4, $5) ON CONFLICT (namespace, recipient_key, channel) DO NOTHING`,
					namespace, o.Key.RecipientKey, channel, o.Reason, micros(now)); err != nil {
					return err
				}
			}
			// Without a response or an opt-out, an invitation's disposition follows its state.
			if o.Key.Round != 0 || (disposition != dispNoAnswer && disposition != dispNonContact) {
				continue
			}
			if to := dispositionOf(string(o.State)); to != disposition {
				w := WaveRef{o.Key.CampaignUID, o.Key.WaveID}
				t.disposition(w, segment, channel, disposition, to)
				if err := s.setDisposition(ctx, tx, w, o.Key.RecipientKey, to); err != nil {
					return err
				}
			}
		}
		return s.apply(ctx, tx, t)
	})
}

// keyBatch bounds the keys of one IN list.
const keyBatch = 500

// inKeys runs query once per batch of keys; the query's last placeholder is followed by the
// IN list, rendered from `first`.
func (s *sqlStore) inKeys(ctx context.Context, keys []string, query string, args []any, found map[string]bool) error {
	for start := 0; start < len(keys); start += keyBatch {
		batch := keys[start:min(start+keyBatch, len(keys))]
		q, all := inList(query, args, batch)
		rows, err := s.db.QueryContext(ctx, s.q(q), all...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return err
			}
			found[k] = true
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// inList is query followed by an IN list of keys, its placeholders numbered after args.
func inList(query string, args []any, keys []string) (string, []any) {
	marks := make([]string, len(keys))
	all := append([]any(nil), args...)
	for i, k := range keys {
		marks[i] = fmt.Sprintf("$%d", len(args)+i+1)
		all = append(all, k)
	}
	return query + " (" + strings.Join(marks, ", ") + ")", all
}

func (s *sqlStore) Contacted(ctx context.Context, namespace string, keys []string, since time.Time, except WaveRef) (map[string]bool, error) {
	found := map[string]bool{}
	err := s.inKeys(ctx, keys, `SELECT DISTINCT recipient_key FROM invitations
		WHERE namespace = $1 AND sent_at IS NOT NULL AND sent_at >= $2 AND NOT (campaign_uid = $3 AND wave_id = $4) AND recipient_key IN`,
		[]any{namespace, micros(since), except.CampaignUID, except.WaveID}, found)
	return found, err
}

func (s *sqlStore) Unanswered(ctx context.Context, campaignUID, waveID string, keys []string) (map[string]bool, error) {
	found := map[string]bool{}
	err := s.inKeys(ctx, keys, `SELECT i.recipient_key FROM invitations i
		WHERE i.campaign_uid = $1 AND i.wave_id = $2 AND i.round = 0 AND i.state IN ('sent', 'unknown')
		AND NOT EXISTS (SELECT 1 FROM responses r
			WHERE r.campaign_uid = i.campaign_uid AND r.wave_id = i.wave_id AND r.recipient_key = i.recipient_key)
		AND i.recipient_key IN`, []any{campaignUID, waveID}, found)
	return found, err
}

func (s *sqlStore) OptOut(ctx context.Context, namespace, recipientKey string, now time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO opt_outs (namespace, recipient_key, opted_out_at) VALUES ($1, $2, $3)
		ON CONFLICT (namespace, recipient_key) DO NOTHING`), namespace, recipientKey, micros(now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // the first opt-out is the one that counts
		}
		// The person's invitations reserved before now, and not answered, become refusals.
		rows, err := tx.QueryContext(ctx, s.q(`SELECT campaign_uid, wave_id, segment, channel, disposition FROM invitations
			WHERE namespace = $1 AND recipient_key = $2 AND round = 0 AND reserved_at <= $3 AND disposition IN ('noanswer', 'noncontact')`),
			namespace, recipientKey, micros(now))
		if err != nil {
			return err
		}
		t := s.newTally()
		var waves []WaveRef
		for rows.Next() {
			var w WaveRef
			var segment, channel, disposition string
			if err := rows.Scan(&w.CampaignUID, &w.WaveID, &segment, &channel, &disposition); err != nil {
				rows.Close()
				return err
			}
			t.disposition(w, segment, channel, disposition, dispRefusal)
			waves = append(waves, w)
		}
		if err := closeRows(rows); err != nil {
			return err
		}
		for _, w := range waves {
			if err := s.setDisposition(ctx, tx, w, recipientKey, dispRefusal); err != nil {
				return err
			}
		}
		return s.apply(ctx, tx, t)
	})
}

func (s *sqlStore) Suppressed(ctx context.Context, namespace string, keys []string) (map[string][]string, error) {
	out := map[string][]string{}
	for start := 0; start < len(keys); start += keyBatch {
		batch := keys[start:min(start+keyBatch, len(keys))]
		query, args := inList(`SELECT recipient_key, channel FROM suppressions WHERE namespace = $1 AND recipient_key IN`, []any{namespace}, batch)
		rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY recipient_key, channel`), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var key, channel string
			if err := rows.Scan(&key, &channel); err != nil {
				rows.Close()
				return nil, err
			}
			out[key] = append(out[key], channel)
		}
		if err := closeRows(rows); err != nil {
			return nil, err
		}
	}
	// Erased people's bounces (erase.go) still count.
	erased, err := s.erasedSuppressions(ctx, namespace, keys)
	if err != nil {
		return nil, err
	}
	for key, channels := range erased {
		for _, c := range channels {
			if c != "" && !slices.Contains(out[key], c) {
				out[key] = append(out[key], c)
				slices.Sort(out[key])
			}
		}
	}
	return out, nil
}

func (s *sqlStore) OptedOut(ctx context.Context, namespace string, keys []string) (map[string]bool, error) {
	found := map[string]bool{}
	if err := s.inKeys(ctx, keys, `SELECT recipient_key FROM opt_outs WHERE namespace = $1 AND recipient_key IN`,
		[]any{namespace}, found); err != nil {
		return nil, err
	}
	// Erased people's opt-outs (erase.go) still count.
	erased, err := s.erasedSuppressions(ctx, namespace, keys)
	if err != nil {
		return nil, err
	}
	for key, channels := range erased {
		if slices.Contains(channels, "") {
			found[key] = true
		}
	}
	return found, nil
}

// saveResponse writes one response in a transaction, and its changes to the aggregates in t
// (the caller applies them). ErrNotFound, ErrWaveClosed and ErrReplay come before it writes
// anything, so the transaction can go on with other responses.
func (s *sqlStore) saveResponse(ctx context.Context, tx *sql.Tx, r Response, now time.Time, t *tally) (bool, error) {
	wave, err := s.admit(ctx, tx, r, now)
	if err != nil {
		return false, err
	}
	if wave.Anonymous {
		return true, s.storeAnonymous(ctx, tx, r, now, wave.PrimaryQuestion, t)
	}
	return s.storeResponse(ctx, tx, r, now, wave.PrimaryQuestion, t)
}

// admit checks that a response may be written, its wave open and its signed request (if any)
// new, and records the signature. Its refusals (ErrNotFound, ErrWaveClosed, ErrReplay) write
// nothing.
func (s *sqlStore) admit(ctx context.Context, tx *sql.Tx, r Response, now time.Time) (Wave, error) {
	wave, err := s.getWave(ctx, tx, r.CampaignUID, r.WaveID)
	if err != nil {
		return Wave{}, err
	}
	if !now.Before(wave.ClosesAt) {
		return Wave{}, ErrWaveClosed
	}
	if wave.Anonymous {
		var one int
		err := tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM responses WHERE campaign_uid = $1 AND wave_id = $2 AND recipient_key = $3`),
			r.CampaignUID, r.WaveID, r.RecipientKey).Scan(&one)
		if err == nil {
			return Wave{}, ErrAnswered
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return Wave{}, err
		}
	}
	if err := s.once(ctx, tx, r.Once, now); err != nil {
		return Wave{}, err
	}
	return wave, nil
}

// refused reports whether err is one of admit's refusals.
func refused(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrWaveClosed) || errors.Is(err, ErrReplay) || errors.Is(err, ErrAnswered)
}

// storeResponse writes an admitted response: a first submission, or a re-submission that
// replaces the first.
func (s *sqlStore) storeResponse(ctx context.Context, tx *sql.Tx, r Response, now time.Time, primaryQuestion string, t *tally) (bool, error) {
	res, err := s.exec(ctx, tx, `
		INSERT INTO responses (campaign_uid, wave_id, recipient_key, namespace, segment, channel, complete, submitted_at, updated_at, language)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)
		ON CONFLICT (campaign_uid, wave_id, recipient_key) DO NOTHING`,
		r.CampaignUID, r.WaveID, r.RecipientKey, r.Namespace, r.Segment, r.Channel, boolInt(r.Complete), micros(now), r.Language)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	if n == 1 {
		rows, cases := responseRows(r, r.Segment, now, primaryQuestion, t)
		if err := s.insertCases(ctx, tx, cases); err != nil {
			return false, err
		}
		if err := s.insertAnswers(ctx, tx, rows); err != nil {
			return false, err
		}
		return true, s.answered(ctx, tx, r, t)
	}
	// A second submission updates the first, and takes back what it counted. The segment stays
	// the one first recorded (the invitation's).
	w := WaveRef{r.CampaignUID, r.WaveID}
	var segment, channel, language string
	if err := tx.QueryRowContext(ctx, s.q(`SELECT segment, channel, language FROM responses WHERE campaign_uid = $1 AND wave_id = $2 AND recipient_key = $3`),
		r.CampaignUID, r.WaveID, r.RecipientKey).Scan(&segment, &channel, &language); err != nil {
		return false, err
	}
	t.response(w, segment, channel, language, -1)
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE responses SET complete = $4, channel = $5, updated_at = $6, language = $7
		WHERE campaign_uid = $1 AND wave_id = $2 AND recipient_key = $3`),
		r.CampaignUID, r.WaveID, r.RecipientKey, boolInt(r.Complete), r.Channel, micros(now), r.Language); err != nil {
		return false, err
	}
	if err := s.uncountAnswers(ctx, tx, w, r.RecipientKey, t); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM answers WHERE campaign_uid = $1 AND wave_id = $2 AND recipient_key = $3`),
		r.CampaignUID, r.WaveID, r.RecipientKey); err != nil {
		return false, err
	}
	rows, cases := responseRows(r, segment, now, primaryQuestion, t)
	if err := s.insertCases(ctx, tx, cases); err != nil {
		return false, err
	}
	if err := s.insertAnswers(ctx, tx, rows); err != nil {
		return false, err
	}
	return false, s.answered(ctx, tx, r, t)
}

// answered moves the person's invitation (if any) to complete or partial.
func (s *sqlStore) answered(ctx context.Context, tx *sql.Tx, r Response, t *tally) error {
	var segment, channel, disposition string
	err := s.queryRow(ctx, tx, `SELECT segment, channel, disposition FROM invitations
		WHERE campaign_uid = $1 AND wave_id = $2 AND recipient_key = $3 AND round = 0`,
		r.CampaignUID, r.WaveID, r.RecipientKey).Scan(&segment, &channel, &disposition)
	switch {
	case errors.Is(err, sql.ErrNoRows): // answered without an invitation in the ledger
		return nil
	case err != nil:
		return err
	}
	to := dispPartial
	if r.Complete {
		to = dispComplete
	}
	if to == disposition {
		return nil
	}
	w := WaveRef{r.CampaignUID, r.WaveID}
	t.disposition(w, segment, channel, disposition, to)
	return s.setDisposition(ctx, tx, w, r.RecipientKey, to)
}

// responseRows are a response's answer rows and the cases it opens, counted in t unless it is
// nil (the response in its segment and channel, each answer in its cells). segment is the one the person's
// response is counted under (a re-submission keeps the first one's).
func responseRows(r Response, segment string, now time.Time, primaryQuestion string, t *tally) (answers [][]any, cases []Case) {
	w := WaveRef{r.CampaignUID, r.WaveID}
	if t != nil {
		t.response(w, segment, r.Channel, r.Language, 1)
	}
	cases = make([]Case, len(r.Cases))
	for i, c := range r.Cases {
		c.CampaignUID, c.WaveID, c.RecipientKey = r.CampaignUID, r.WaveID, r.RecipientKey
		c.Namespace, c.Segment, c.Channel, c.OpenedAt = r.Namespace, segment, r.Channel, now
		cases[i] = c
	}
	var primaryValue any // the respondent's answer to the primary question, on its scale
	for _, a := range r.Answers {
		if a.Question == primaryQuestion && a.Value != nil && !a.NotApplicable {
			primaryValue = *a.Value
		}
	}
	answers = make([][]any, len(r.Answers))
	for i, a := range r.Answers {
		var value, text any
		if a.Value != nil && !a.NotApplicable {
			value = *a.Value
		}
		if a.Text != "" {
			text = a.Text
		}
		answers[i] = []any{r.CampaignUID, r.WaveID, r.RecipientKey, a.Question, segment, r.Channel, value, text, boolInt(a.NotApplicable), primaryValue}
		if t != nil {
			t.answer(w, a.Question, segment, r.Channel, nullInt(value), nullInt(primaryValue), a.NotApplicable, 1)
		}
	}
	return answers, cases
}

// answerColumns are the columns of an answer row as responseRows makes it.
var answerColumns = []column{{"campaign_uid", "text"}, {"wave_id", "text"}, {"recipient_key", "text"}, {"question", "text"},
	{"segment", "text"}, {"channel", "text"}, {"value_int", "int8"}, {"value_text", "text"}, {"not_applicable", "int8"},
	{"primary_value", "int8"}}

// insertAnswers inserts answer rows as responseRows makes them.
func (s *sqlStore) insertAnswers(ctx context.Context, tx *sql.Tx, rows [][]any) error {
	return s.insertRows(ctx, tx, "answers", answerColumns, "", rows)
}

// RecordSigned records a signed request's signature on its own (store.Store).
func (s *sqlStore) RecordSigned(ctx context.Context, o Once, now time.Time) error {
	return s.writing(func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback() }()
		if err := s.once(ctx, tx, o, now); err != nil {
			return err
		}
		return tx.Commit()
	})
}

// once records a signed request's signature, forgetting those past their time, or refuses it
// as ErrReplay when it is already there.
func (s *sqlStore) once(ctx context.Context, tx *sql.Tx, o Once, now time.Time) error {
	if o.Signature == "" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM signed_requests WHERE expires_at < $1`), micros(now)); err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, s.q(`INSERT INTO signed_requests (signature, expires_at) VALUES ($1, $2) ON CONFLICT (signature) DO NOTHING`),
		o.Signature, micros(o.Until))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return cmp.Or(err, ErrReplay)
	}
	return nil
}

// column is a column a multi-row insert writes, with its type as PostgreSQL's unnest reads it
// (text or int8; an integer column takes an int8 by assignment).
type column struct{ name, typ string }

// columnNames lists the columns' names.
func columnNames(cols []column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

// insertRows inserts rows into table's columns, followed by suffix (an ON CONFLICT clause, or
// nothing): on SQLite one prepared statement per row (in process, cheaper than parsing a
// statement), on PostgreSQL one statement whatever the number of rows, its rows passed as one
// array per column, so that its text is always the same (prepared once per connection) and it
// is one round trip.
func (s *sqlStore) insertRows(ctx context.Context, tx *sql.Tx, table string, cols []column, suffix string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	if s.sqlite {
		marks := make([]string, len(cols))
		for i := range marks {
			marks[i] = fmt.Sprintf("$%d", i+1)
		}
		st, err := s.prepare(ctx, tx, `INSERT INTO `+table+` (`+columnNames(cols)+`) VALUES (`+strings.Join(marks, ", ")+`)`+suffix)
		if err != nil {
			return err
		}
		for _, row := range rows {
			if _, err := st.ExecContext(ctx, row...); err != nil {
				return err
			}
		}
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (`+columnNames(cols)+`) SELECT * FROM `+unnest(cols, 1)+suffix,
		arrays(cols, rows)...)
	return err
}

// unnest is a PostgreSQL call of unnest over one array per column, its parameters numbered
// from first.
func unnest(cols []column, first int) string {
	var b strings.Builder
	b.WriteString("unnest(")
	for j, c := range cols {
		if j > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d::%s[]", first+j, c.typ)
	}
	b.WriteString(")")
	return b.String()
}

// arrays are rows as unnest reads them, one array per column. A value is a string, an int or an
// int64, or nil for NULL.
func arrays(cols []column, rows [][]any) []any {
	args := make([]any, len(cols))
	for j, c := range cols {
		switch c.typ {
		case "text":
			col := make(pgtype.FlatArray[pgtype.Text], len(rows))
			for i, row := range rows {
				if v, ok := row[j].(string); ok {
					col[i] = pgtype.Text{String: v, Valid: true}
				}
			}
			args[j] = col
		default:
			col := make(pgtype.FlatArray[pgtype.Int8], len(rows))
			for i, row := range rows {
				switch v := row[j].(type) {
				case int:
					col[i] = pgtype.Int8{Int64: int64(v), Valid: true}
				case int64:
					col[i] = pgtype.Int8{Int64: v, Valid: true}
				}
			}
			args[j] = col
		}
	}
	return args
}

// nullInt is an optional integer as SaveResponse binds it (nil or an int).
func nullInt(v any) sql.NullInt64 {
	if i, ok := v.(int); ok {
		return sql.NullInt64{Int64: int64(i), Valid: true}
	}
	return sql.NullInt64{}
}

// uncountAnswers takes a person's stored answers out of the aggregates, before they are replaced.
func (s *sqlStore) uncountAnswers(ctx context.Context, tx *sql.Tx, w WaveRef, recipientKey string, t *tally) error {
	rows, err := tx.QueryContext(ctx, s.q(`SELECT question, segment, channel, value_int, not_applicable, primary_value FROM answers
		WHERE campaign_uid = $1 AND wave_id = $2 AND recipient_key = $3`), w.CampaignUID, w.WaveID, recipientKey)
	if err != nil {
		return err
	}
	for rows.Next() {
		var question, segment, channel string
		var value, primary sql.NullInt64
		var na int
		if err := rows.Scan(&question, &segment, &channel, &value, &na, &primary); err != nil {
			rows.Close()
			return err
		}
		t.answer(w, question, segment, channel, value, primary, na == 1, -1)
	}
	return closeRows(rows)
}

func (s *sqlStore) GetResponse(ctx context.Context, campaignUID, waveID, recipientKey string) (Response, error) {
	r := Response{CampaignUID: campaignUID, WaveID: waveID, RecipientKey: recipientKey}
	var complete int
	var submitted, updated int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT namespace, segment, channel, complete, submitted_at, updated_at, language
		FROM responses WHERE campaign_uid = $1 AND wave_id = $2 AND recipient_key = $3`),
		campaignUID, waveID, recipientKey).Scan(&r.Namespace, &r.Segment, &r.Channel, &complete, &submitted, &updated, &r.Language)
	if errors.Is(err, sql.ErrNoRows) {
		return Response{}, ErrNotFound
	}
	if err != nil {
		return Response{}, err
	}
	r.Complete, r.SubmittedAt, r.UpdatedAt = complete == 1, fromMicros(submitted), fromMicros(updated)
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT question, value_int, value_text, not_applicable FROM answers
		WHERE campaign_uid = $1 AND wave_id = $2 AND recipient_key = $3 ORDER BY question`), campaignUID, waveID, recipientKey)
	if err != nil {
		return Response{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var a Answer
		var value sql.NullInt64
		var text sql.NullString
		var na int
		if err := rows.Scan(&a.Question, &value, &text, &na); err != nil {
			return Response{}, err
		}
		if value.Valid {
			v := int(value.Int64)
			a.Value = &v
		}
		a.Text, a.NotApplicable = text.String, na == 1
		r.Answers = append(r.Answers, a)
	}
	return r, rows.Err()
}

func (s *sqlStore) PutFrame(ctx context.Context, campaignUID, waveID string, shard, shards int, frame map[string]FrameCounts) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM waves WHERE campaign_uid = $1 AND wave_id = $2`), campaignUID, waveID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM wave_frames WHERE campaign_uid = $1 AND wave_id = $2 AND (shard = $3 OR shard >= $4)`),
			campaignUID, waveID, shard, shards); err != nil {
			return err
		}
		for segment, c := range frame {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO wave_frames (campaign_uid, wave_id, shard, segment, population, unreachable,
				sampled, opted_out, contacted_recently) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`),
				campaignUID, waveID, shard, segment, c.Population, c.Unreachable, c.Sampled, c.OptedOut, c.ContactedRecently); err != nil {
				return err
			}
		}
		return nil
	})
}

// frame reads a wave's frame: each shard counted the whole audience (the same population,
// unreachable and sample), and left out people of its own part.
func (s *sqlStore) frame(ctx context.Context, campaignUID, waveID string) (map[string]FrameCounts, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT segment, MAX(population), MAX(unreachable), MAX(sampled), SUM(opted_out), SUM(contacted_recently)
		FROM wave_frames WHERE campaign_uid = $1 AND wave_id = $2 GROUP BY segment`), campaignUID, waveID)
	if err != nil {
		return nil, err
	}
	out := map[string]FrameCounts{}
	for rows.Next() {
		var segment string
		var c FrameCounts
		if err := rows.Scan(&segment, &c.Population, &c.Unreachable, &c.Sampled, &c.OptedOut, &c.ContactedRecently); err != nil {
			rows.Close()
			return nil, err
		}
		out[segment] = c
	}
	return out, closeRows(rows)
}

func (s *sqlStore) Summarize(ctx context.Context, campaignUID, waveID, primary string) (Summary, error) {
	sum, err := s.newSummary(ctx, campaignUID, waveID)
	if err != nil {
		return Summary{}, err
	}
	stored, err := s.primaryQuestion(ctx, campaignUID, waveID)
	if err != nil {
		return Summary{}, err
	}
	maintained := primary != "" && primary == stored
	if err := s.summarizeMaintained(ctx, campaignUID, waveID, maintained, &sum); err != nil {
		return Summary{}, err
	}
	if primary != "" && !maintained {
		if err := s.pairsByJoin(ctx, campaignUID, waveID, primary, sum.Pairs); err != nil {
			return Summary{}, err
		}
	}
	return sum, nil
}

// newSummary is a wave's summary with its frame, and nothing counted yet.
func (s *sqlStore) newSummary(ctx context.Context, campaignUID, waveID string) (Summary, error) {
	frame, err := s.frame(ctx, campaignUID, waveID)
	if err != nil {
		return Summary{}, err
	}
	return Summary{
		Dispositions: map[Group]scoring.Dispositions{},
		Responded:    map[Group]int{},
		Languages:    map[string]int{},
		Pairs:        map[string]scoring.PairStats{},
		Frame:        frame,
	}, nil
}

// primaryQuestion is the primary question a wave was registered with ("" for none, or no wave).
func (s *sqlStore) primaryQuestion(ctx context.Context, campaignUID, waveID string) (string, error) {
	w, err := s.getWave(ctx, nil, campaignUID, waveID)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	return w.PrimaryQuestion, err
}

// summarizeByScan computes what Summarize reads from the maintained aggregates from the rows
// themselves: a full recount, which the tests hold the aggregates to.
func (s *sqlStore) summarizeByScan(ctx context.Context, campaignUID, waveID, primary string) (Summary, error) {
	sum, err := s.newSummary(ctx, campaignUID, waveID)
	if err != nil {
		return Summary{}, err
	}
	// Dispositions of the invitations, from the ledger, the responses and the opt-outs.
	rows, err := s.db.QueryContext(ctx, s.q(`
		SELECT i.segment, i.channel, i.state, COALESCE(r.complete, -1),
			CASE WHEN o.recipient_key IS NULL THEN 0 ELSE 1 END, COUNT(*)
		FROM invitations i
		LEFT JOIN responses r ON r.campaign_uid = i.campaign_uid AND r.wave_id = i.wave_id AND r.recipient_key = i.recipient_key
		LEFT JOIN opt_outs o ON o.namespace = i.namespace AND o.recipient_key = i.recipient_key AND o.opted_out_at >= i.reserved_at
		WHERE i.campaign_uid = $1 AND i.wave_id = $2 AND i.round = 0
		GROUP BY i.segment, i.channel, i.state, COALESCE(r.complete, -1), CASE WHEN o.recipient_key IS NULL THEN 0 ELSE 1 END`),
		campaignUID, waveID)
	if err != nil {
		return Summary{}, err
	}
	for rows.Next() {
		var g Group
		var state string
		var complete, optedOut, n int
		if err := rows.Scan(&g.Segment, &g.Channel, &state, &complete, &optedOut, &n); err != nil {
			rows.Close()
			return Summary{}, err
		}
		d := sum.Dispositions[g]
		switch {
		case complete == 1:
			d.Complete += n
		case complete == 0:
			d.Partial += n
		case optedOut == 1:
			d.Refusal += n
		case state == string(StateFailed) || state == string(StateBounced):
			d.NonContact += n
		default: // sent, unknown, sending or still reserved: possibly delivered, nothing came back
			d.NoAnswer += n
		}
		sum.Dispositions[g] = d
	}
	if err := closeRows(rows); err != nil {
		return Summary{}, err
	}

	rows, err = s.db.QueryContext(ctx, s.q(`SELECT segment, channel, COUNT(*) FROM responses
		WHERE campaign_uid = $1 AND wave_id = $2 GROUP BY segment, channel`), campaignUID, waveID)
	if err != nil {
		return Summary{}, err
	}
	for rows.Next() {
		var g Group
		var n int
		if err := rows.Scan(&g.Segment, &g.Channel, &n); err != nil {
			rows.Close()
			return Summary{}, err
		}
		sum.Responded[g] = n
	}
	if err := closeRows(rows); err != nil {
		return Summary{}, err
	}

	rows, err = s.db.QueryContext(ctx, s.q(`SELECT language, COUNT(*) FROM responses
		WHERE campaign_uid = $1 AND wave_id = $2 GROUP BY language`), campaignUID, waveID)
	if err != nil {
		return Summary{}, err
	}
	for rows.Next() {
		var language string
		var n int
		if err := rows.Scan(&language, &n); err != nil {
			rows.Close()
			return Summary{}, err
		}
		sum.Languages[language] = n
	}
	if err := closeRows(rows); err != nil {
		return Summary{}, err
	}

	rows, err = s.db.QueryContext(ctx, s.q(`SELECT question, segment, channel, value_int, not_applicable, COUNT(*) FROM answers
		WHERE campaign_uid = $1 AND wave_id = $2 AND (value_int IS NOT NULL OR not_applicable = 1)
		GROUP BY question, segment, channel, value_int, not_applicable`), campaignUID, waveID)
	if err != nil {
		return Summary{}, err
	}
	for rows.Next() {
		var h HistogramRow
		var value sql.NullInt64
		var na int
		if err := rows.Scan(&h.Question, &h.Group.Segment, &h.Group.Channel, &value, &na, &h.Count); err != nil {
			rows.Close()
			return Summary{}, err
		}
		if value.Valid && na == 0 {
			v := int(value.Int64)
			h.Value = &v
		}
		h.NotApplicable = na == 1
		sum.Histograms = append(sum.Histograms, h)
	}
	if err := closeRows(rows); err != nil {
		return Summary{}, err
	}

	if primary == "" {
		return sum, nil
	}
	stored, err := s.primaryQuestion(ctx, campaignUID, waveID)
	if err != nil {
		return Summary{}, err
	}
	if primary != stored {
		return sum, s.pairsByJoin(ctx, campaignUID, waveID, primary, sum.Pairs)
	}
	// Each answer carries its respondent's primary answer: one grouped scan.
	rows, err = s.db.QueryContext(ctx, s.q(`
		SELECT question, COUNT(*), SUM(value_int), SUM(primary_value),
			SUM(value_int * value_int), SUM(primary_value * primary_value), SUM(value_int * primary_value)
		FROM answers
		WHERE campaign_uid = $1 AND wave_id = $2 AND value_int IS NOT NULL AND not_applicable = 0 AND primary_value IS NOT NULL
		GROUP BY question`), campaignUID, waveID)
	if err != nil {
		return Summary{}, err
	}
	return sum, scanPairs(rows, sum.Pairs)
}

// pairsByJoin computes the drivers' sums with a question other than the wave's primary one:
// each respondent's answers joined to their answer to it. The primary question's answers drive
// the join (CROSS JOIN fixes that order in SQLite).
func (s *sqlStore) pairsByJoin(ctx context.Context, campaignUID, waveID, primary string, pairs map[string]scoring.PairStats) error {
	rows, err := s.db.QueryContext(ctx, s.q(`
		SELECT a.question, COUNT(*), SUM(a.value_int), SUM(p.value_int),
			SUM(a.value_int * a.value_int), SUM(p.value_int * p.value_int), SUM(a.value_int * p.value_int)
		FROM answers p CROSS JOIN answers a
		WHERE p.campaign_uid = $1 AND p.wave_id = $2 AND p.question = $3
			AND p.value_int IS NOT NULL AND p.not_applicable = 0
			AND a.campaign_uid = p.campaign_uid AND a.wave_id = p.wave_id AND a.recipient_key = p.recipient_key
			AND a.value_int IS NOT NULL AND a.not_applicable = 0
		GROUP BY a.question`), campaignUID, waveID, primary)
	if err != nil {
		return err
	}
	return scanPairs(rows, pairs)
}

func scanPairs(rows *sql.Rows, pairs map[string]scoring.PairStats) error {
	for rows.Next() {
		var q string
		var ps scoring.PairStats
		if err := rows.Scan(&q, &ps.N, &ps.SumX, &ps.SumY, &ps.SumXX, &ps.SumYY, &ps.SumXY); err != nil {
			rows.Close()
			return err
		}
		pairs[q] = ps
	}
	return closeRows(rows)
}

func closeRows(rows *sql.Rows) error {
	if err := rows.Err(); err != nil {
		rows.Close()
		return err
	}
	return rows.Close()
}
