package skerhttp

import (
	"fmt"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/skerhq/sker/ai"
	"github.com/skerhq/sker/apierr"
)

// AIProviders lists the configured AI providers (*aiengine.Engine).
type AIProviders interface {
	Providers() []ai.ProviderInfo
}

type providerView struct {
	Name         string   `json:"name"`
	Models       []string `json:"models"`
	DefaultModel string   `json:"default_model"`
}

// aiProviders answers GET /api/v1/ai/providers: the providers and models
// a card may use, never their keys.
func (s *Server) aiProviders(c *fiber.Ctx) error {
	out := []providerView{}
	if s.deps.AI != nil {
		for _, p := range s.deps.AI.Providers() {
			out = append(out, providerView{Name: p.Name, Models: p.Models, DefaultModel: p.DefaultModel})
		}
	}
	return c.JSON(fiber.Map{"providers": out})
}

type usageView struct {
	Day          string `json:"day"`
	Provider     string `json:"provider"`
	Model        string `json:"model"`
	Runs         int64  `json:"runs"`
	InputTokens  int64  `json:"input_tokens"`
	OutputTokens int64  `json:"output_tokens"`
}

// aiUsage answers GET /api/v1/ai/usage?days=N: the caller's own AI runs
// and tokens by UTC day and model over the last N days (default 30, at
// most 366).
func (s *Server) aiUsage(c *fiber.Ctx) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	days := 30
	if v := c.Query("days"); v != "" {
		if days, err = strconv.Atoi(v); err != nil || days < 1 || days > 366 {
			return apierr.Invalid("days", "want a whole number of days from 1 to 366")
		}
	}
	now := time.Now().UTC()
	since := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -(days - 1))
	rows, err := s.st.AIUsage(c.UserContext(), p.UserID, since)
	if err != nil {
		return fmt.Errorf("ai usage: %w", err)
	}
	out := make([]usageView, 0, len(rows))
	var totalIn, totalOut, runs int64
	for _, r := range rows {
		out = append(out, usageView{Day: r.Day, Provider: r.Provider, Model: r.Model, Runs: r.Runs, InputTokens: r.InputTokens, OutputTokens: r.OutputTokens})
		totalIn, totalOut, runs = totalIn+r.InputTokens, totalOut+r.OutputTokens, runs+r.Runs
	}
	return c.JSON(fiber.Map{
		"since": since.Format(time.DateOnly), "usage": out,
		"total": fiber.Map{"runs": runs, "input_tokens": totalIn, "output_tokens": totalOut},
	})
}
