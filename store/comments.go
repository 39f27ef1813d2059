package store

import (
	"context"
	"errors"
	"strings"
)

const commentCols = "canvas_id, id, thread, author_id, seq, mentions, body"

// The statements that write comments, one per batch size.
var (
	commentUpserts = newBatchStmts(func(size int) string {
		return "INSERT INTO canvas_comments (" + commentCols + ") VALUES " + placeholders(size, 7) +
			" ON CONFLICT (canvas_id, id) DO UPDATE SET thread = excluded.thread," +
			" author_id = excluded.author_id, seq = excluded.seq, mentions = excluded.mentions, body = excluded.body"
	})
	commentDeletes = newBatchStmts(func(size int) string {
		return "DELETE FROM canvas_comments WHERE canvas_id = ? AND id IN " + placeholders(1, size)
	})
)

// mentionsText is how the mentions column holds user ids: ",id1,id2,",
// so that LIKE '%,id,%' finds a mention of id; ids never hold a comma.
func mentionsText(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return "," + strings.Join(ids, ",") + ","
}

func mentionsFrom(s string) []string {
	s = strings.Trim(s, ",")
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func putComments(ctx context.Context, q querier, canvasID string, cs []Comment) error {
	return runBatches(ctx, q, commentUpserts, len(cs), func(start, size int) []any {
		args := make([]any, 0, size*7)
		for _, c := range cs[start : start+size] {
			seq, _ := seqArg(c.Seq) // checked by SaveCheckpoint
			args = append(args, canvasID, c.ID, c.Thread, c.AuthorID, seq, mentionsText(c.Mentions), string(c.Body))
		}
		return args
	})
}

func loadComments(ctx context.Context, q querier, canvasID string, cp *Checkpoint) error {
	return queryAll(ctx, q, "SELECT "+commentCols+" FROM canvas_comments WHERE canvas_id = ? ORDER BY id", []any{canvasID},
		func(r rows) error {
			var c Comment
			var mentions, body string
			err := r.Scan(new(string), &c.ID, &c.Thread, &c.AuthorID, (*seqCol)(&c.Seq), &mentions, &body)
			c.Mentions, c.Body = mentionsFrom(mentions), []byte(body)
			cp.Comments = append(cp.Comments, c)
			return err
		})
}

// MarkCommentsRead implements Store.
func (s *sqlStore) MarkCommentsRead(ctx context.Context, canvasID, userID string, seq uint64) error {
	seq64, err := seqArg(seq)
	if err == nil {
		_, err = s.write.exec(ctx, "INSERT INTO comment_reads (canvas_id, user_id, seq) VALUES (?, ?, ?)"+
			" ON CONFLICT (canvas_id, user_id) DO UPDATE SET seq = excluded.seq WHERE comment_reads.seq < excluded.seq",
			canvasID, userID, seq64)
	}
	return s.fail(err, "mark the comments of canvas %s read by %s", canvasID, userID)
}

// CommentsRead implements Store.
func (s *sqlStore) CommentsRead(ctx context.Context, canvasID, userID string) (uint64, error) {
	var seq uint64
	err := queryOne(ctx, s.read, "SELECT seq FROM comment_reads WHERE canvas_id = ? AND user_id = ?",
		[]any{canvasID, userID}, (*seqCol)(&seq))
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	return seq, s.fail(err, "comments of canvas %s read by %s", canvasID, userID)
}

// UnreadMentions implements Store.
func (s *sqlStore) UnreadMentions(ctx context.Context, userID string) (map[string]int, error) {
	out := map[string]int{}
	err := queryAll(ctx, s.read,
		"SELECT c.canvas_id, COUNT(*) FROM canvas_comments c"+
			" JOIN canvas_members m ON m.canvas_id = c.canvas_id AND m.user_id = ?"+
			" LEFT JOIN comment_reads r ON r.canvas_id = c.canvas_id AND r.user_id = ?"+
			" WHERE c.mentions LIKE ? ESCAPE '\\' AND c.author_id <> ? AND c.seq > COALESCE(r.seq, 0)"+
			" GROUP BY c.canvas_id",
		[]any{userID, userID, "%," + likeEscaper.Replace(userID) + ",%", userID}, func(r rows) error {
			var id string
			var n int64
			err := r.Scan(&id, &n)
			out[id] = int(n)
			return err
		})
	if err != nil {
		return nil, s.fail(err, "unread mentions of %s", userID)
	}
	return out, nil
}

// likeEscaper makes a string match itself only in a LIKE pattern with
// ESCAPE '\'.
var likeEscaper = strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`)
