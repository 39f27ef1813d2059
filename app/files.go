package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/skerhq/sker/ai"
	"github.com/skerhq/sker/cluster"
	"github.com/skerhq/sker/files"
	"github.com/skerhq/sker/filesweep"
	skerhttp "github.com/skerhq/sker/http"
	"github.com/skerhq/sker/store"
)

// fileRoutes serves the file routes on a node with the gateway role, from
// the file store New opened.
func (a *App) fileRoutes() {
	if !a.hasRole(cluster.RoleGateway) || a.files == nil {
		return
	}
	previews, err := files.NewPreviews(filepath.Join(a.cfg.DataDir, "previews"))
	if err != nil {
		a.log.Warn("no image previews: their folder cannot be made", "err", err)
	}
	a.http.ServeFiles(skerhttp.FilesConfig{
		Store: a.files, MaxSize: a.cfg.MaxFileSize, Previews: previews,
		CanvasQuota: a.cfg.FileQuotaCanvas, UserQuota: a.cfg.FileQuotaUser,
	})
}

// maxAIImage is the largest image an AI run sends to a model: Anthropic
// takes at most 5 MB an image (OpenAI 20 MB).
const maxAIImage = 5_000_000

// aiImages reads the images of image cards for AI runs: only a file the
// card's canvas holds (store.CanvasFile), of a type the models take, of at
// most maxAIImage bytes.
type aiImages struct {
	store store.Store
	files files.Store
}

func (s aiImages) Image(ctx context.Context, canvasID, fileID string) (ai.Image, error) {
	f, err := s.store.CanvasFile(ctx, canvasID, fileID)
	if errors.Is(err, store.ErrNotFound) {
		return ai.Image{}, fmt.Errorf("file %s is not a file of canvas %s", fileID, canvasID)
	}
	if err != nil {
		return ai.Image{}, err
	}
	switch {
	case !ai.ImageTypes[f.Type]:
		return ai.Image{}, fmt.Errorf("file %s is %s, not an image the models take", fileID, f.Type)
	case f.Size > maxAIImage:
		return ai.Image{}, fmt.Errorf("file %s is %d bytes, over the %d an image sent to a model may have", fileID, f.Size, maxAIImage)
	}
	r, _, err := s.files.Open(ctx, fileID)
	if err != nil {
		return ai.Image{}, fmt.Errorf("file %s: %w", fileID, err)
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, maxAIImage+1))
	if err != nil {
		return ai.Image{}, fmt.Errorf("file %s: %w", fileID, err)
	}
	if len(data) > maxAIImage {
		return ai.Image{}, fmt.Errorf("file %s is over %d bytes", fileID, maxAIImage)
	}
	return ai.Image{MediaType: f.Type, Data: data}, nil
}

// openFiles is the file store: UPLOAD_PATH on this node's disk (fs, the
// default), or the JetStream object store <PREFIX>_FILES replicated as the
// journal (nats), which every node of a cluster reads.
func (a *App) openFiles(ctx context.Context, js jetstream.JetStream) (files.Store, error) {
	if a.cfg.FileStore == "nats" {
		var st *files.Objects
		err := a.whenFormed(ctx, "file store", func(ctx context.Context) (err error) {
			st, err = files.OpenObjects(ctx, js, files.ObjectsConfig{
				Bucket: a.names.Files(), Replicas: a.cfg.JournalReplicas,
				SpoolDir: filepath.Join(a.cfg.DataDir, "spool"),
			})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("app: FILE_STORE=nats: %w", err)
		}
		if err := a.importRestored(ctx, st); err != nil {
			return nil, err
		}
		return st, nil
	}
	dir := a.cfg.UploadPath
	if dir == "" {
		dir = filepath.Join(a.cfg.DataDir, "uploads")
	}
	if a.cfg.Clustered() {
		a.log.Warn("uploads are kept on this node's disk (FILE_STORE=fs): every node must share UPLOAD_PATH, else use FILE_STORE=nats",
			"upload_path", dir)
	}
	st, err := files.NewFS(dir)
	if err != nil {
		return nil, fmt.Errorf("app: UPLOAD_PATH: %w", err)
	}
	if err := a.importRestored(ctx, st); err != nil {
		return nil, err
	}
	return st, nil
}

// startFileSweep sweeps the files every FILE_SWEEP_INTERVAL until ctx
// ends or Shutdown stops it. Every node with a file store sweeps: the
// sweep is idempotent, and a node whose UPLOAD_PATH is its own disk must
// clean its own.
func (a *App) startFileSweep(ctx context.Context) {
	// Without the journal, a card only it holds would not count.
	if a.files == nil || a.journal == nil || a.cfg.FileSweepInterval <= 0 {
		return
	}
	sw := filesweep.New(filesweep.Config{Store: a.store, Journal: a.journal, Files: a.files, Grace: a.cfg.FileGrace, Logger: a.log})
	a.sweep.start(ctx, a.cfg.FileSweepInterval, func(ctx context.Context) {
		if _, err := sw.Sweep(ctx, time.Now()); err != nil && ctx.Err() == nil {
			a.log.Warn("file sweep incomplete", "err", err)
		}
	})
}
