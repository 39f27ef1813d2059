package config

import (
	"strings"
	"testing"
)

func TestAccessLog(t *testing.T) {
	tests := []struct {
		in, want, file string
		bad            bool
	}{
		{"", "on", "", false},
		{"on", "on", "", false},
		{"OFF", "off", "", false},
		{"/var/log/sker/access.log", "/var/log/sker/access.log", "/var/log/sker/access.log", false},
		{"/var/log/sker/../sker/a.log", "/var/log/sker/a.log", "/var/log/sker/a.log", false},
		{"access.log", "", "", true},
		{"yes", "", "", true},
		{"/var/log/", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c, _, err := Load(nil, env(map[string]string{"ACCESS_LOG": tt.in}), "")
			if tt.bad {
				if err == nil || !strings.Contains(err.Error(), "ACCESS_LOG") {
					t.Fatalf("ACCESS_LOG=%q: got %v; want an error naming ACCESS_LOG", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ACCESS_LOG=%q: %v", tt.in, err)
			}
			if c.AccessLog != tt.want || c.AccessLogFile() != tt.file {
				t.Fatalf("ACCESS_LOG=%q: got %q (file %q); want %q (file %q)", tt.in, c.AccessLog, c.AccessLogFile(), tt.want, tt.file)
			}
		})
	}
}
