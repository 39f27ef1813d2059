package store

import (
	"context"
	"strings"
)

// batchSizes are the row counts of the multi-row statements that write a
// checkpoint, largest first. 500 nodes are 6,000 parameters, under
// SQLite's 32,766 and PostgreSQL's 65,535, and a 50,000-node delta is 100
// statements. A fixed few sizes, rather than one statement per remainder,
// keep the distinct statement texts at four per table: PostgreSQL prepares
// each text and pgx caches it on every connection.
var batchSizes = [...]int{500, 50, 5, 1}

// batchStmts holds a statement's text for each of batchSizes.
type batchStmts map[int]string

// newBatchStmts builds the statement of each batch size.
func newBatchStmts(build func(size int) string) batchStmts {
	stmts := make(batchStmts, len(batchSizes))
	for _, size := range batchSizes {
		stmts[size] = build(size)
	}
	return stmts
}

// runBatches writes n rows with the largest batches that fit; args returns
// the arguments of rows [start, start+size).
func runBatches(ctx context.Context, q querier, stmts batchStmts, n int, args func(start, size int) []any) error {
	for start := 0; start < n; {
		size := n - start
		for _, s := range batchSizes {
			if s <= size {
				size = s
				break
			}
		}
		if _, err := q.exec(ctx, stmts[size], args(start, size)...); err != nil {
			return err
		}
		start += size
	}
	return nil
}

// placeholders returns "(?, ?, …), (?, …)…": rows groups of cols markers.
func placeholders(rows, cols int) string {
	group := "(" + strings.Repeat("?, ", cols-1) + "?)"
	var b strings.Builder
	b.Grow(rows * (len(group) + 2))
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(group)
	}
	return b.String()
}

// lastOfEach keeps the last of the items that share an id, in order:
// PostgreSQL refuses a multi-row upsert that touches one row twice, and
// the last put of an id is the one that counts.
func lastOfEach[T any](items []T, id func(T) string) []T {
	last := make(map[string]int, len(items))
	for i, it := range items {
		last[id(it)] = i
	}
	if len(last) == len(items) {
		return items
	}
	kept := make([]T, 0, len(last))
	for i, it := range items {
		if last[id(it)] == i {
			kept = append(kept, it)
		}
	}
	return kept
}
