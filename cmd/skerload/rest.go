package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// restClient sets runs up through SKER's REST API: a user of its own and
// the canvases it owns (so every connection may join every canvas).
type restClient struct {
	base  string // http://127.0.0.1:port
	http  *http.Client
	token string
	user  string
}

func newRESTClient(base string) *restClient {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	return &restClient{base: base, http: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// loopbackOnly refuses any address that is not loopback: the harness
// floods what it points at.
func loopbackOnly(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("address %q: %w", raw, err)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("address %q is not loopback: skerload only loads a server on this machine", raw)
}

type apiError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Message)
}

// do sends a JSON request and decodes a JSON answer into out (when not nil).
func (c *restClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e struct {
			Error apiError `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		e.Error.Status = resp.StatusCode
		return fmt.Errorf("%s %s: %w", method, path, &e.Error)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// register creates a fresh user and keeps its access token.
func (c *restClient) register(ctx context.Context) error {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "skerload-" + hex.EncodeToString(b[:])
	var out struct {
		AccessToken string `json:"access_token"`
		User        struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	err := c.do(ctx, http.MethodPost, "/api/v1/auth/register", map[string]string{
		"email": name + "@load.test", "password": "load-" + hex.EncodeToString(b[:]) + "-pw", "name": name,
	}, &out)
	if err != nil {
		return err
	}
	c.token, c.user = out.AccessToken, out.User.ID
	return nil
}

func (c *restClient) createCanvas(ctx context.Context, title string) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/v1/canvases", map[string]string{"title": title}, &out); err != nil {
		return "", err
	}
	return out.ID, nil
}

// createCanvases creates n canvases, a few requests at a time.
func (c *restClient) createCanvases(ctx context.Context, n int, prefix string) ([]string, error) {
	ids := make([]string, n)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	var mu sync.Mutex
	for i := range n {
		g.Go(func() error {
			id, err := c.createCanvas(ctx, fmt.Sprintf("%s %d", prefix, i))
			mu.Lock()
			ids[i] = id
			mu.Unlock()
			return err
		})
	}
	return ids, g.Wait()
}

// health reports whether the server answers /health.
func (c *restClient) health(ctx context.Context) bool {
	return c.do(ctx, http.MethodGet, "/health", nil, nil) == nil
}

// postOps posts a ready {cbid, ops} body to a canvas and returns the seq of
// the committed batch.
func (c *restClient) postOps(ctx context.Context, canvasID string, body []byte) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/api/v1/canvases/"+canvasID+"/ops", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e struct {
			Error apiError `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		e.Error.Status = resp.StatusCode
		return 0, &e.Error
	}
	var out struct {
		Seq uint64 `json:"seq"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, err
	}
	return out.Seq, nil
}
