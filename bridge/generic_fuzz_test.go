package bridge

import (
	"strings"
	"testing"
)

// FuzzParseGenericConfig: no file crashes the parser, and a file it
// accepts has valid, unique mappings, each of one kind, with its
// defaults filled and its routing key template parsed.
func FuzzParseGenericConfig(f *testing.F) {
	for _, s := range []string{
		"mappings:\n  - name: orders-in\n    from_queue: orders\n    to_subject: sker.ext.orders\n",
		"mappings:\n  - name: alerts-out\n    from_subject: sker.ext.alerts.>\n    to_exchange: alerts\n    routing_key: \"alerts.{{subject 4}}\"\n",
		"mappings:\n  - name: a\n    from_queue: q\n    to_subject: x\n    dead_letter_queue: q\n",
		"mappings:\n  - name: a\n    from_subject: '*.b'\n    to_exchange: e\n    routing_key: '{{header X}}.{{subject}}'\n",
		`{"mappings":[{"name":"j","from_queue":"q","to_subject":"s"}]}`,
		"mappings: [", "- a", "", "mappings:\n  - {}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ms, err := ParseGenericConfig(data)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, m := range ms {
			if !genericName.MatchString(m.Name) || seen[m.Name] {
				t.Fatalf("accepted name %q (seen %v)", m.Name, seen[m.Name])
			}
			seen[m.Name] = true
			if CheckName(m.DeadLetterQueue) != nil {
				t.Fatalf("accepted dead_letter_queue %q", m.DeadLetterQueue)
			}
			if m.Inbound() {
				if m.FromSubject != "" || m.ToExchange != "" || checkSubject(m.ToSubject, false) != nil || CheckName(m.FromQueue) != nil {
					t.Fatalf("accepted inbound mapping %+v", m)
				}
				continue
			}
			if m.key == nil || m.ToSubject != "" || checkSubject(m.FromSubject, true) != nil || CheckName(m.ToExchange) != nil {
				t.Fatalf("accepted outbound mapping %+v", m)
			}
		}
	})
}

// FuzzKeyTemplate: no template crashes the parser, and what a parsed
// template renders for any subject and header is at most 255 bytes, and
// holds the literal text in order.
func FuzzKeyTemplate(f *testing.F) {
	for _, s := range [][2]string{
		{"alerts.{{subject 4}}", "sker.ext.alerts.disk"},
		{"{{subject}}", "a.b.c"},
		{"x.{{header Kind}}.{{subject 1}}", "a"},
		{"{{ subject  2 }}", "a.b"},
		{"{{subject 0}}", "a"}, {"{{", "a"}, {"}}", "a"}, {"{{header}}", "a"}, {"{{subject 999}}", "a"},
	} {
		f.Add(s[0], s[1], "v")
	}
	f.Fuzz(func(t *testing.T, tmpl, subject, header string) {
		k, err := parseKeyTemplate(tmpl)
		if err != nil {
			return
		}
		key, err := k.render(subject, func(string) string { return header })
		if err != nil {
			return
		}
		if len(key) > maxRoutingKey {
			t.Fatalf("rendered %d bytes; want at most %d", len(key), maxRoutingKey)
		}
		rest := key
		for _, p := range k.parts {
			if p.kind != "" {
				continue
			}
			i := strings.Index(rest, p.lit)
			if i < 0 {
				t.Fatalf("template %q: literal %q not in %q", tmpl, p.lit, key)
			}
			rest = rest[i+len(p.lit):]
		}
		if strings.Contains(tmpl, "{{subject}}") && !strings.Contains(key, subject) {
			t.Fatalf("template %q: %q does not hold the subject %q", tmpl, key, subject)
		}
	})
}

// TestKeyTemplate: the directives render as documented, and a message
// without what its key needs is an error, which makes it a dead letter.
func TestGenericKeyTemplate(t *testing.T) {
	h := map[string]string{"Kind": "disk"}
	for _, tc := range []struct{ tmpl, subject, want, err string }{
		{"alerts.{{subject 4}}", "sker.ext.alerts.cpu", "alerts.cpu", ""},
		{"{{subject}}", "a.b", "a.b", ""},
		{"{{ header Kind }}.{{subject 1}}", "x.y", "disk.x", ""},
		{"plain", "a", "plain", ""},
		{"{{subject 3}}", "a.b", "", "no token 3"},
		{"{{header Other}}", "a", "", "no header Other"},
		{strings.Repeat("k", 250) + "{{subject}}", "abcdef", "", "longer than 255"},
	} {
		k, err := parseKeyTemplate(tc.tmpl)
		if err != nil {
			t.Fatalf("%q: %v", tc.tmpl, err)
		}
		got, err := k.render(tc.subject, func(n string) string { return h[n] })
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q on %q: got %q, %v; want an error with %q", tc.tmpl, tc.subject, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q on %q: got %q, %v; want %q", tc.tmpl, tc.subject, got, err, tc.want)
		}
	}
	for _, bad := range []string{"{{subject", "a}}", "{{subject 0}}", "{{subject x}}", "{{header}}", "{{header a b}}", "{{tag}}", ""} {
		if _, err := parseKeyTemplate(bad); err == nil {
			t.Errorf("%q: parsed; want an error", bad)
		}
	}
}
