package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// sqlStore is the implementation of Store shared by both databases: the
// SQL is written once, with ? placeholders, and runs on whatever a backend
// supplies. SQLite and Postgres fill in the fields and add Ping and Close.
//
// Arguments are plain Go values; time.Time and *time.Time arguments are
// converted by each backend's querier (timestamptz on PostgreSQL, unix
// microseconds on SQLite), and time columns are scanned with timeCol and
// nullTimeCol, which accept both encodings.
type sqlStore struct {
	// write runs single-statement writes.
	write querier
	// read runs reads that must see every committed write: logins, token
	// and role checks, canvas lookups.
	read querier
	// lagRead runs reads that tolerate replication lag (lists shown to
	// people). It is read when the backend has no replica.
	lagRead querier
	// inTx runs fn in a read-write transaction, committing when fn returns
	// nil and rolling back otherwise.
	inTx func(ctx context.Context, fn func(q querier) error) error
	// inSnapshot runs fn in a read-only transaction in which every
	// statement sees the same snapshot.
	inSnapshot func(ctx context.Context, fn func(q querier) error) error
	// classify maps a driver error to ErrConflict (unique violation) or
	// ErrNotFound (foreign key violation: the row referred to is missing),
	// and returns nil for any other error.
	classify func(err error) error
	// forUpdate is appended to a SELECT to lock the rows it reads until
	// the transaction ends: " FOR UPDATE" on PostgreSQL; empty on SQLite,
	// whose write transactions already exclude each other.
	forUpdate string
}

// querier is a connection pool or a transaction.
type querier interface {
	// exec runs a statement and returns the number of rows it affected.
	exec(ctx context.Context, query string, args ...any) (int64, error)
	query(ctx context.Context, query string, args ...any) (rows, error)
}

// rows is a result set; pgx.Rows has this shape, *sql.Rows is adapted.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// queryOne scans the first row of a query into dest, or returns
// ErrNotFound when there is none.
func queryOne(ctx context.Context, q querier, query string, args []any, dest ...any) error {
	r, err := q.query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer r.Close()
	if !r.Next() {
		if err := r.Err(); err != nil {
			return err
		}
		return ErrNotFound
	}
	if err := r.Scan(dest...); err != nil {
		return err
	}
	return r.Err()
}

// queryAll calls scan for each row of a query; scan scans the row.
func queryAll(ctx context.Context, q querier, query string, args []any, scan func(r rows) error) error {
	r, err := q.query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer r.Close()
	for r.Next() {
		if err := scan(r); err != nil {
			return err
		}
	}
	return r.Err()
}

// execOne runs a statement that must affect a row, else ErrNotFound.
func execOne(ctx context.Context, q querier, query string, args ...any) error {
	n, err := q.exec(ctx, query, args...)
	if err == nil && n == 0 {
		err = ErrNotFound
	}
	return err
}

// fail wraps err with the operation that failed. A driver error that means
// a sentinel (see classify) wraps both, so errors.Is finds the sentinel and
// the message keeps the driver's detail.
func (s *sqlStore) fail(err error, format string, a ...any) error {
	if err == nil {
		return nil
	}
	op := fmt.Sprintf(format, a...)
	if isSentinel(err) {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	if sentinel := s.classify(err); sentinel != nil {
		return fmt.Errorf("store: %s: %w: %w", op, sentinel, err)
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

func isSentinel(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) || errors.Is(err, ErrLastOwner)
}

// timeCol scans a time column (timestamptz, or unix microseconds) into a
// time.Time in UTC.
type timeCol struct{ p *time.Time }

// Scan implements sql.Scanner.
func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*c.p = v.UTC()
	case int64:
		*c.p = time.UnixMicro(v).UTC()
	default:
		return fmt.Errorf("store: scan %T into a time", src)
	}
	return nil
}

// nullTimeCol scans a nullable time column into a *time.Time, nil for NULL.
type nullTimeCol struct{ p **time.Time }

// Scan implements sql.Scanner.
func (c nullTimeCol) Scan(src any) error {
	if src == nil {
		*c.p = nil
		return nil
	}
	var t time.Time
	if err := (timeCol{&t}).Scan(src); err != nil {
		return err
	}
	*c.p = &t
	return nil
}

// jsonText is the text stored for a JSON column: "{}" when b is empty.
func jsonText(b []byte) string {
	if len(b) == 0 {
		return "{}"
	}
	return string(b)
}

// seqArg converts a seq for the database, whose integers are signed.
func seqArg(seq uint64) (int64, error) {
	if seq > 1<<63-1 {
		return 0, fmt.Errorf("seq %d is out of range", seq)
	}
	return int64(seq), nil
}

// rebind rewrites ? placeholders as PostgreSQL's $1, $2, … . The shared
// SQL has no ? inside string literals or identifiers.
func rebind(query string) string {
	n := strings.Count(query, "?")
	if n == 0 {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + n*5)
	arg := 0
	for i := range len(query) { // '?' is ASCII: bytes are safe in UTF-8
		if query[i] != '?' {
			b.WriteByte(query[i])
			continue
		}
		arg++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(arg))
	}
	return b.String()
}
