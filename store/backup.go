package store

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// A dump is the store's rows in a form either backend can load: JSON
// lines, a header, then for each table a line naming its columns and one
// line per row (a JSON array of its values), then a trailer with the
// number of rows, so that a truncated dump is refused. Times are unix
// microseconds, as precise as both backends keep them; text, integers
// and floats are JSON strings and numbers, NULL is null.
//
//	{"sker_dump":1,"schema_version":3}
//	{"table":"users","columns":["id","email",…]}
//	["0190…","ada@example.com",…]
//	…
//	{"end":true,"rows":1234}

// DumpFormat is the version of the dump's layout.
const DumpFormat = 1

// colType is how a column is scanned, written and read back.
type colType int

const (
	colText     colType = iota
	colInt              // a 64-bit integer
	colFloat            // a 64-bit float
	colTime             // NOT NULL timestamptz, or unix microseconds
	colNullTime         // the same, nullable
	colBytes            // bytes (BYTEA, BLOB), base64 in the dump
)

type column struct {
	name string
	typ  colType
}

// table is one table of the schema, its columns as the latest migration
// leaves them and its primary key (the order rows are dumped in).
type table struct {
	name string
	cols []column
	key  string
}

func cols(typ colType, names ...string) []column {
	out := make([]column, len(names))
	for i, n := range names {
		out[i] = column{n, typ}
	}
	return out
}

func join(parts ...[]column) []column {
	var out []column
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// tables lists every table of the schema but goose's own, parents before
// the tables whose foreign keys point at them. TestDumpCoversSchema fails
// when a migration adds a table or column that is not here.
var tables = []table{
	{"users", join(cols(colText, "id", "email", "email_lower", "name", "password_hash"),
		cols(colTime, "created_at"), cols(colNullTime, "sessions_revoked_at")), "id"},
	{"refresh_tokens", join(cols(colText, "id", "user_id", "token_hash"), cols(colTime, "created_at", "expires_at"),
		cols(colNullTime, "revoked_at"), cols(colText, "replaced_by", "session_id")), "id"},
	{"api_tokens", join(cols(colText, "id", "user_id", "name", "token_hash"), cols(colTime, "created_at"),
		cols(colNullTime, "expires_at", "last_used_at")), "id"},
	{"canvases", join(cols(colText, "id", "title", "settings", "created_by"), cols(colTime, "created_at", "updated_at")), "id"},
	{"canvas_members", join(cols(colText, "canvas_id", "user_id", "role"), cols(colTime, "created_at")), "canvas_id, user_id"},
	{"nodes", join(cols(colText, "canvas_id", "id", "kind"), cols(colFloat, "x", "y", "w", "h"), cols(colInt, "z"),
		cols(colText, "data", "author_id"), cols(colTime, "created_at", "updated_at")), "canvas_id, id"},
	{"edges", join(cols(colText, "canvas_id", "id", "source", "target", "kind", "data", "author_id"),
		cols(colTime, "created_at")), "canvas_id, id"},
	{"checkpoints", join(cols(colText, "canvas_id"), cols(colInt, "seq"), cols(colTime, "updated_at")), "canvas_id"},
	{"ai_runs", join(cols(colText, "id", "user_id", "canvas_id", "node_id", "provider", "model"),
		cols(colInt, "input_tokens", "output_tokens", "duration_ms"), cols(colText, "outcome", "error"),
		cols(colTime, "created_at")), "id"},
	{"files", join(cols(colText, "canvas_id", "id"), cols(colInt, "size"), cols(colText, "type"), cols(colInt, "width", "height"),
		cols(colText, "name", "created_by"), cols(colTime, "created_at"), cols(colNullTime, "unreferenced_at")), "canvas_id, id"},
	{"canvas_versions", join(cols(colText, "canvas_id"), cols(colInt, "seq"), cols(colText, "kind", "name", "created_by"),
		cols(colTime, "created_at"), cols(colText, "authors"), cols(colBytes, "state")), "canvas_id, seq, kind"},
	{"canvas_comments", join(cols(colText, "canvas_id", "id", "thread", "author_id"), cols(colInt, "seq"),
		cols(colText, "mentions", "body")), "canvas_id, id"},
	{"comment_reads", join(cols(colText, "canvas_id", "user_id"), cols(colInt, "seq")), "canvas_id, user_id"},
}

// Tables lists the tables a dump holds, in the order it holds them.
func Tables() []string {
	out := make([]string, len(tables))
	for i, t := range tables {
		out[i] = t.name
	}
	return out
}

func tableByName(name string) (table, bool) {
	for _, t := range tables {
		if t.name == name {
			return t, true
		}
	}
	return table{}, false
}

// ErrNotEmpty: a restore's target store already holds rows.
var ErrNotEmpty = errors.New("store: not empty")

// BackupInfo describes a copy of the store: its schema version and every
// canvas with the seq of the checkpoint it holds (0: never checkpointed).
type BackupInfo struct {
	SchemaVersion int64
	Canvases      map[string]uint64
	Rows          int64 // rows of a dump; 0 for a database file
}

type dumpHeader struct {
	Format        int   `json:"sker_dump"`
	SchemaVersion int64 `json:"schema_version"`
}

type dumpTable struct {
	Table   string   `json:"table"`
	Columns []string `json:"columns"`
}

type dumpEnd struct {
	End  bool  `json:"end"`
	Rows int64 `json:"rows"`
}

// SchemaVersion is the highest migration applied to the store.
func (s *sqlStore) SchemaVersion(ctx context.Context) (int64, error) {
	return schemaVersion(ctx, s.read)
}

func schemaVersion(ctx context.Context, q querier) (int64, error) {
	var v int64
	err := queryOne(ctx, q, "SELECT COALESCE(max(version_id), 0) FROM goose_db_version WHERE is_applied", nil, &v)
	if err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return v, nil
}

// CheckpointSeqs returns every canvas with the seq of its stored
// checkpoint (0 when it has none), read in one snapshot.
func (s *sqlStore) CheckpointSeqs(ctx context.Context) (map[string]uint64, error) {
	var out map[string]uint64
	err := s.inSnapshot(ctx, func(q querier) error {
		var err error
		out, err = checkpointSeqs(ctx, q)
		return err
	})
	if err != nil {
		return nil, s.fail(err, "list checkpoint seqs")
	}
	return out, nil
}

func checkpointSeqs(ctx context.Context, q querier) (map[string]uint64, error) {
	out := map[string]uint64{}
	err := queryAll(ctx, q, "SELECT c.id, COALESCE(k.seq, 0) FROM canvases c LEFT JOIN checkpoints k ON k.canvas_id = c.id", nil,
		func(r rows) error {
			var id string
			var seq int64
			if err := r.Scan(&id, &seq); err != nil {
				return err
			}
			out[id] = uint64(seq)
			return nil
		})
	return out, err
}

// RowCounts counts the rows of every table a dump holds.
func (s *sqlStore) RowCounts(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	for _, t := range tables {
		var n int64
		if err := queryOne(ctx, s.read, "SELECT count(*) FROM "+t.name, nil, &n); err != nil {
			return nil, s.fail(err, "count %s", t.name)
		}
		out[t.name] = n
	}
	return out, nil
}

// Dump writes every row of the store to w, all read in one snapshot, and
// returns what the dump holds.
func (s *sqlStore) Dump(ctx context.Context, w io.Writer) (BackupInfo, error) {
	var info BackupInfo
	err := s.inSnapshot(ctx, func(q querier) error {
		var err error
		info, err = dump(ctx, q, w)
		return err
	})
	if err != nil {
		return BackupInfo{}, s.fail(err, "dump")
	}
	return info, nil
}

func dump(ctx context.Context, q querier, w io.Writer) (BackupInfo, error) {
	info := BackupInfo{Canvases: map[string]uint64{}}
	var err error
	if info.SchemaVersion, err = schemaVersion(ctx, q); err != nil {
		return info, err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(dumpHeader{Format: DumpFormat, SchemaVersion: info.SchemaVersion}); err != nil {
		return info, err
	}
	for _, t := range tables {
		names := make([]string, len(t.cols))
		for i, c := range t.cols {
			names[i] = c.name
		}
		if err := enc.Encode(dumpTable{Table: t.name, Columns: names}); err != nil {
			return info, err
		}
		err := queryAll(ctx, q, "SELECT "+strings.Join(names, ", ")+" FROM "+t.name+" ORDER BY "+t.key, nil,
			func(r rows) error {
				vals, err := scanRow(r, t.cols)
				if err != nil {
					return fmt.Errorf("%s: %w", t.name, err)
				}
				info.Rows++
				noteCanvas(&info, t.name, vals)
				return enc.Encode(vals)
			})
		if err != nil {
			return info, err
		}
	}
	if err := enc.Encode(dumpEnd{End: true, Rows: info.Rows}); err != nil {
		return info, err
	}
	return info, bw.Flush()
}

// noteCanvas keeps the canvases and their checkpoint seqs as they pass.
func noteCanvas(info *BackupInfo, table string, vals []any) {
	switch table {
	case "canvases":
		info.Canvases[vals[0].(string)] = 0
	case "checkpoints":
		info.Canvases[vals[0].(string)] = uint64(vals[1].(int64))
	}
}

// scanRow reads one row as the values a dump writes: string, int64,
// float64, an int64 of unix microseconds, or nil.
func scanRow(r rows, cs []column) ([]any, error) {
	dest := make([]any, len(cs))
	texts := make([]string, len(cs))
	ints := make([]int64, len(cs))
	floats := make([]float64, len(cs))
	times := make([]time.Time, len(cs))
	nullTimes := make([]*time.Time, len(cs))
	blobs := make([][]byte, len(cs))
	for i, c := range cs {
		switch c.typ {
		case colBytes:
			dest[i] = &blobs[i]
		case colText:
			dest[i] = &texts[i]
		case colInt:
			dest[i] = &ints[i]
		case colFloat:
			dest[i] = &floats[i]
		case colTime:
			dest[i] = timeCol{&times[i]}
		case colNullTime:
			dest[i] = nullTimeCol{&nullTimes[i]}
		}
	}
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	vals := make([]any, len(cs))
	for i, c := range cs {
		switch c.typ {
		case colText:
			// JSON would replace invalid UTF-8; a dump keeps bytes exactly
			// or refuses.
			if !utf8.ValidString(texts[i]) {
				return nil, fmt.Errorf("column %s: text is not valid UTF-8", c.name)
			}
			vals[i] = texts[i]
		case colInt:
			vals[i] = ints[i]
		case colBytes:
			vals[i] = blobs[i] // encoding/json writes base64
		case colFloat:
			if math.IsNaN(floats[i]) || math.IsInf(floats[i], 0) {
				return nil, fmt.Errorf("column %s: %v has no JSON form", c.name, floats[i])
			}
			vals[i] = floats[i]
		case colTime:
			vals[i] = times[i].UnixMicro()
		case colNullTime:
			if nullTimes[i] != nil {
				vals[i] = nullTimes[i].UnixMicro()
			}
		}
	}
	return vals, nil
}

// Load inserts the rows of a dump into the store, in one transaction: all
// of them or, on any error, none. The store must be migrated and hold no
// rows (ErrNotEmpty otherwise); a dump of a newer schema than the store's
// is refused. Columns a dump of an older schema lacks take their defaults.
func (s *sqlStore) Load(ctx context.Context, r io.Reader) (BackupInfo, error) {
	var info BackupInfo
	err := s.inTx(ctx, func(q querier) error {
		var err error
		info, err = load(ctx, q, r)
		return err
	})
	if err != nil {
		return BackupInfo{}, s.fail(err, "load dump")
	}
	return info, nil
}

// loadBatch is how many rows one INSERT carries.
const loadBatch = 200

func load(ctx context.Context, q querier, r io.Reader) (BackupInfo, error) {
	info := BackupInfo{Canvases: map[string]uint64{}}
	br := bufio.NewReaderSize(r, 64<<10)
	dec := json.NewDecoder(br)
	dec.UseNumber()
	var head dumpHeader
	if err := dec.Decode(&head); err != nil || head.Format == 0 {
		return info, fmt.Errorf("not a dump: %v", err)
	}
	if head.Format != DumpFormat {
		return info, fmt.Errorf("dump format %d; this sker reads %d", head.Format, DumpFormat)
	}
	have, err := schemaVersion(ctx, q)
	if err != nil {
		return info, err
	}
	if head.SchemaVersion > have {
		return info, fmt.Errorf("dump has schema version %d, the store %d: restore with a sker at least as new as the one that made the dump",
			head.SchemaVersion, have)
	}
	info.SchemaVersion = head.SchemaVersion
	if err := requireEmpty(ctx, q); err != nil {
		return info, err
	}
	l := loader{ctx: ctx, q: q, info: &info}
	for {
		var line json.RawMessage
		if err := dec.Decode(&line); err != nil {
			return info, fmt.Errorf("dump ends after %d rows without its trailer: %w", info.Rows, err)
		}
		if len(line) > 0 && line[0] == '[' {
			if err := l.row(line); err != nil {
				return info, err
			}
			continue
		}
		if err := l.flush(); err != nil {
			return info, err
		}
		var m struct {
			dumpTable
			dumpEnd
		}
		if err := json.Unmarshal(line, &m); err != nil {
			return info, fmt.Errorf("dump line after %d rows: %w", info.Rows, err)
		}
		if m.End {
			if m.Rows != info.Rows {
				return info, fmt.Errorf("dump says %d rows, holds %d", m.Rows, info.Rows)
			}
			// Read to the end, inside the transaction: a compressed
			// dump's checksum is checked there.
			rest, err := io.ReadAll(io.MultiReader(dec.Buffered(), br))
			if err != nil {
				return info, fmt.Errorf("dump after its trailer: %w", err)
			}
			if len(strings.TrimSpace(string(rest))) > 0 {
				return info, errors.New("dump has data after its trailer")
			}
			return info, nil
		}
		if err := l.start(m.Table, m.Columns); err != nil {
			return info, err
		}
	}
}

// requireEmpty fails with ErrNotEmpty when any table holds a row.
func requireEmpty(ctx context.Context, q querier) error {
	var full []string
	for _, t := range tables {
		var n int64
		if err := queryOne(ctx, q, "SELECT count(*) FROM "+t.name, nil, &n); err != nil {
			return err
		}
		if n > 0 {
			full = append(full, fmt.Sprintf("%s (%d rows)", t.name, n))
		}
	}
	if full != nil {
		return fmt.Errorf("%w: %s", ErrNotEmpty, strings.Join(full, ", "))
	}
	return nil
}

// loader inserts one table's rows, loadBatch at a time.
type loader struct {
	ctx     context.Context
	q       querier
	info    *BackupInfo
	table   string
	cols    []column
	pending []any // arguments of the rows not inserted yet
	n       int   // rows in pending
}

func (l *loader) start(name string, names []string) error {
	t, ok := tableByName(name)
	if !ok {
		return fmt.Errorf("dump has a table %q this sker does not know", name)
	}
	l.table, l.cols = name, nil
	for _, n := range names {
		found := false
		for _, c := range t.cols {
			if c.name == n {
				l.cols, found = append(l.cols, c), true
				break
			}
		}
		if !found {
			return fmt.Errorf("dump has a column %s.%s this sker does not know", name, n)
		}
	}
	return nil
}

func (l *loader) row(line json.RawMessage) error {
	if l.table == "" {
		return errors.New("dump has a row before its first table")
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(line, &raw); err != nil {
		return fmt.Errorf("%s row %d: %w", l.table, l.info.Rows+1, err)
	}
	if len(raw) != len(l.cols) {
		return fmt.Errorf("%s row %d: %d values for %d columns", l.table, l.info.Rows+1, len(raw), len(l.cols))
	}
	vals := make([]any, len(raw))
	for i, c := range l.cols {
		v, err := decodeValue(raw[i], c.typ)
		if err != nil {
			return fmt.Errorf("%s row %d column %s: %w", l.table, l.info.Rows+1, c.name, err)
		}
		vals[i] = v
	}
	l.info.Rows++
	switch l.table {
	case "canvases":
		l.info.Canvases[vals[0].(string)] = 0
	case "checkpoints":
		for i, c := range l.cols {
			if c.name == "seq" {
				l.info.Canvases[vals[0].(string)] = uint64(vals[i].(int64))
			}
		}
	}
	l.pending = append(l.pending, vals...)
	l.n++
	if l.n >= loadBatch {
		return l.flush()
	}
	return nil
}

func (l *loader) flush() error {
	if l.n == 0 {
		return nil
	}
	names := make([]string, len(l.cols))
	for i, c := range l.cols {
		names[i] = c.name
	}
	stmt := "INSERT INTO " + l.table + " (" + strings.Join(names, ", ") + ") VALUES " + placeholders(l.n, len(l.cols))
	if _, err := l.q.exec(l.ctx, stmt, l.pending...); err != nil {
		return fmt.Errorf("insert into %s: %w", l.table, err)
	}
	l.pending, l.n = l.pending[:0], 0
	return nil
}

// decodeValue reads a dumped value as the argument a querier takes.
func decodeValue(raw json.RawMessage, typ colType) (any, error) {
	if string(raw) == "null" {
		if typ == colNullTime {
			return (*time.Time)(nil), nil
		}
		return nil, errors.New("null in a NOT NULL column")
	}
	switch typ {
	case colText:
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case colBytes:
		var b []byte
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, fmt.Errorf("want base64 text, got %.40s", raw)
		}
		if b == nil {
			b = []byte{} // NOT NULL: an empty value, never NULL
		}
		return b, nil
	case colInt, colTime, colNullTime:
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("want an integer, got %s", raw)
		}
		if typ == colInt {
			return n, nil
		}
		return time.UnixMicro(n).UTC(), nil
	case colFloat:
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return nil, fmt.Errorf("want a number, got %s", raw)
		}
		return f, nil
	}
	return nil, fmt.Errorf("unknown column type %d", typ)
}
