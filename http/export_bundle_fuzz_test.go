package skerhttp

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// FuzzDecodeBundle feeds arbitrary bytes to the import's zip decoder: it
// must never panic, never read past its limits, and whatever it accepts
// holds the export and only files named by their content's SHA-256.
func FuzzDecodeBundle(f *testing.F) {
	lim := bundleLimits{JSON: 4096, File: 2048, Total: 8192}
	seed := func(entries ...[2]string) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, e := range entries {
			w, _ := zw.Create(e[0])
			w.Write([]byte(e[1]))
		}
		zw.Close()
		return buf.Bytes()
	}
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	ex := `{"version":1,"nodes":[],"edges":[]}`
	f.Add(seed([2]string{bundleJSON, ex}))
	f.Add(seed([2]string{bundleJSON, ex}, [2]string{bundleFiles + sum("hello"), "hello"}))
	f.Add(seed([2]string{bundleJSON, ex}, [2]string{"../x", "x"}))
	f.Add(seed([2]string{bundleJSON, ex}, [2]string{bundleFiles + sum("a"), "b"}))
	f.Add(seed([2]string{bundleJSON, strings.Repeat("0", 5000)}))
	f.Add(seed([2]string{bundleFiles, ""}, [2]string{bundleJSON, ex}))
	f.Add([]byte("PK\x03\x04"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := decodeBundle(data, lim)
		if err != nil {
			return
		}
		total := int64(len(b.JSON))
		if total > lim.JSON {
			t.Fatalf("accepted an export of %d bytes; the limit is %d", total, lim.JSON)
		}
		for id, content := range b.Files {
			if int64(len(content)) > lim.File {
				t.Fatalf("accepted a file of %d bytes; the limit is %d", len(content), lim.File)
			}
			if h := sha256.Sum256(content); hex.EncodeToString(h[:]) != id {
				t.Fatalf("accepted file %s whose content hashes to %x", id, h)
			}
			total += int64(len(content))
		}
		if total > lim.Total {
			t.Fatalf("accepted %d bytes in all; the limit is %d", total, lim.Total)
		}
	})
}
