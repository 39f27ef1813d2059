package config

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLogFormatOf(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, ".env")
	if err := os.WriteFile(envFile, []byte("LOG_FORMAT=json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		file string
		want string
	}{
		{"nothing", nil, nil, "", "text"},
		{"env", nil, map[string]string{"LOG_FORMAT": "JSON"}, "", "json"},
		{"env file", nil, nil, envFile, "json"},
		{"env over file", nil, map[string]string{"LOG_FORMAT": "text"}, envFile, "text"},
		{"flag over env", []string{"--log-format", "json"}, map[string]string{"LOG_FORMAT": "text"}, "", "json"},
		{"flag with =", []string{"-log-format=text"}, nil, envFile, "text"},
		{"the guide's combined", nil, map[string]string{"LOG_FORMAT": "combined"}, "", "text"},
		{"a bad value", nil, map[string]string{"LOG_FORMAT": "xml"}, "", "text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := LogFormatOf(tt.args, env(tt.env), tt.file); got != tt.want {
				t.Fatalf("got %q; want %q", got, tt.want)
			}
		})
	}
}
