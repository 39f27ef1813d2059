package versions

import (
	"fmt"
	"testing"
	"time"

	"github.com/skerhq/sker/store"
)

func TestExpired(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	at := func(seq uint64, kind string, ago time.Duration) store.Version {
		return store.Version{Seq: seq, Kind: kind, CreatedAt: now.Add(-ago)}
	}
	vs := []store.Version{
		at(1, store.VersionAuto, 40*24*time.Hour),  // past retention
		at(2, store.VersionNamed, 31*24*time.Hour), // past retention
		at(3, store.VersionAuto, 10*24*time.Hour),  // keeps its day
		at(4, store.VersionAuto, 10*24*time.Hour-time.Minute),
		at(5, store.VersionAI, 10*24*time.Hour-2*time.Minute), // not thinned
		at(6, store.VersionAuto, 2*24*time.Hour),              // keeps its hour
		at(7, store.VersionAuto, 2*24*time.Hour-time.Minute),
		at(8, store.VersionAuto, 2*time.Hour), // recent: kept
		at(9, store.VersionAuto, 2*time.Hour-time.Minute),
	}
	got := fmt.Sprint(expired(vs, now, 30*24*time.Hour))
	if want := "map[auto:[1 4 7] named:[2]]"; got != want {
		t.Errorf("expired: got %s; want %s", got, want)
	}
}
