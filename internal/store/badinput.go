package store

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// IsBadInput reports whether err is a value the database refused as invalid input: ErrBadInput,
// or PostgreSQL's data exceptions (SQLSTATE class 22: a NUL or a byte sequence invalid in UTF-8
// (22021), an untranslatable character (22P05), a string too long (22001), a malformed
// number or date). The response service answers them 400, never 5xx: the request is at fault,
// and asking again will not help. It is the last line behind the service's gate, which refuses
// such values before any store call; SQLite, which stores what it is given, has no such errors.
func IsBadInput(err error) bool {
	if errors.Is(err, ErrBadInput) {
		return true
	}
	var pg *pgconn.PgError
	return errors.As(err, &pg) && len(pg.Code) == 5 && pg.Code[:2] == "22"
}
