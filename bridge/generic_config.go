package bridge

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// GenericMapping is one mapping of the bridge's configuration file
// (BRIDGE_CONFIG): a RabbitMQ queue to a NATS subject (FromQueue,
// ToSubject), or the messages of a JetStream stream on a subject to a
// RabbitMQ exchange (FromSubject, ToExchange, RoutingKey). docs/bridge.md
// describes both.
type GenericMapping struct {
	// Name is unique, 1 to 64 of a-z, 0-9 and '-': the metrics' mapping
	// label, GET /bridge's key, and part of the names derived from it.
	Name string `json:"name"`
	// FromQueue is the durable queue the bridge consumes (and declares,
	// single active consumer), with ToSubject the NATS subject each
	// message is published to, through JetStream.
	FromQueue string `json:"from_queue,omitempty"`
	ToSubject string `json:"to_subject,omitempty"`
	// FromSubject is the subject (wildcards allowed) whose messages a
	// JetStream stream keeps, with ToExchange the durable topic exchange
	// they go to and RoutingKey the routing key's template (default
	// "{{subject}}").
	FromSubject string `json:"from_subject,omitempty"`
	ToExchange  string `json:"to_exchange,omitempty"`
	RoutingKey  string `json:"routing_key,omitempty"`
	// DeadLetterQueue receives the messages that cannot be moved, with
	// the reason in their headers; default FromQueue + ".dead", or
	// ToExchange + ".dead".
	DeadLetterQueue string `json:"dead_letter_queue,omitempty"`

	key *keyTemplate // RoutingKey, parsed
}

// genericFile is the configuration file.
type genericFile struct {
	Mappings []GenericMapping `json:"mappings"`
}

var genericName = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)

// LoadGenericConfig reads the mappings of the configuration file at path
// strictly: unknown fields, duplicate keys and names, and bad values are
// errors naming the file, the mapping and the field.
func LoadGenericConfig(path string) ([]GenericMapping, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bridge: BRIDGE_CONFIG %s: %w", path, err)
	}
	ms, err := ParseGenericConfig(data)
	if err != nil {
		return nil, fmt.Errorf("bridge: BRIDGE_CONFIG %s: %w", path, err)
	}
	return ms, nil
}

// ParseGenericConfig reads a configuration file's content, as
// LoadGenericConfig does.
func ParseGenericConfig(data []byte) ([]GenericMapping, error) {
	var f genericFile
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, err
	}
	if len(f.Mappings) == 0 {
		return nil, errors.New("mappings: want at least one mapping")
	}
	seen := map[string]bool{}
	for i := range f.Mappings {
		m := &f.Mappings[i]
		if err := m.check(); err != nil {
			return nil, fmt.Errorf("mappings[%d] (%s): %w", i, m.Name, err)
		}
		if seen[m.Name] {
			return nil, fmt.Errorf("mappings[%d] (%s): name: used by another mapping", i, m.Name)
		}
		seen[m.Name] = true
	}
	return f.Mappings, nil
}

// Inbound reports whether m moves a queue to a subject.
func (m *GenericMapping) Inbound() bool { return m.FromQueue != "" }

// check validates m and fills its defaults; errors name the field.
func (m *GenericMapping) check() error {
	if !genericName.MatchString(m.Name) {
		return fmt.Errorf("name: want 1 to 64 of a-z, 0-9 and '-', got %q", m.Name)
	}
	if m.Name == MappingCommands || m.Name == MappingEvents {
		return fmt.Errorf("name: %q is the name of a built-in mapping", m.Name)
	}
	switch {
	case m.FromQueue != "" && m.FromSubject != "":
		return errors.New("from_queue, from_subject: set one, not both")
	case m.FromQueue != "":
		if m.ToExchange != "" || m.RoutingKey != "" {
			return errors.New("to_exchange, routing_key: a mapping from a queue goes to_subject")
		}
		if err := CheckName(m.FromQueue); err != nil {
			return fmt.Errorf("from_queue: %w", err)
		}
		if err := checkSubject(m.ToSubject, false); err != nil {
			return fmt.Errorf("to_subject: %w", err)
		}
		if m.DeadLetterQueue == "" {
			m.DeadLetterQueue = m.FromQueue + ".dead"
		}
	case m.FromSubject != "":
		if m.ToSubject != "" {
			return errors.New("to_subject: a mapping from a subject goes to_exchange")
		}
		if err := checkSubject(m.FromSubject, true); err != nil {
			return fmt.Errorf("from_subject: %w", err)
		}
		if err := CheckName(m.ToExchange); err != nil {
			return fmt.Errorf("to_exchange: %w", err)
		}
		if m.RoutingKey == "" {
			m.RoutingKey = "{{subject}}"
		}
		k, err := parseKeyTemplate(m.RoutingKey)
		if err != nil {
			return fmt.Errorf("routing_key: %w", err)
		}
		m.key = k
		if m.DeadLetterQueue == "" {
			m.DeadLetterQueue = m.ToExchange + ".dead"
		}
	default:
		return errors.New("from_queue, from_subject: set one")
	}
	if err := CheckName(m.DeadLetterQueue); err != nil {
		return fmt.Errorf("dead_letter_queue: %w", err)
	}
	if m.DeadLetterQueue == m.FromQueue {
		return errors.New("dead_letter_queue: must differ from from_queue")
	}
	return nil
}

// checkSubject reports a NATS subject that cannot be published to (or,
// with wild, subscribed to): empty tokens, white space, or wildcards
// where they are not allowed.
func checkSubject(s string, wild bool) error {
	if s == "" {
		return errors.New("want a NATS subject, got nothing")
	}
	if len(s) > 255 {
		return fmt.Errorf("want at most 255 bytes, got %d", len(s))
	}
	toks := strings.Split(s, ".")
	for i, t := range toks {
		switch {
		case t == "":
			return fmt.Errorf("empty token in %q", s)
		case strings.ContainsAny(t, " \t\r\n\x00"):
			return fmt.Errorf("white space in %q", s)
		case t == "*" || t == ">":
			if !wild {
				return fmt.Errorf("wildcard %q in %q: a subject to publish to has none", t, s)
			}
			if t == ">" && i != len(toks)-1 {
				return fmt.Errorf("'>' must be the last token of %q", s)
			}
		case strings.ContainsAny(t, "*>"):
			return fmt.Errorf("'*' and '>' must be whole tokens in %q", s)
		}
	}
	return nil
}

// keyTemplate is a routing key template: literal text and the directives
// {{subject}} (the whole subject), {{subject N}} (its Nth token, from 1)
// and {{header NAME}} (the message's NATS header NAME).
type keyTemplate struct{ parts []keyPart }

type keyPart struct {
	lit    string
	kind   string // "" (lit), "subject", "header"
	token  int    // subject: 0 whole, else 1-based
	header string
}

// maxRoutingKey is AMQP's limit on a routing key (a short string).
const maxRoutingKey = 255

func parseKeyTemplate(s string) (*keyTemplate, error) {
	t := &keyTemplate{}
	rest := s
	for rest != "" {
		i := strings.Index(rest, "{{")
		if i < 0 {
			t.parts = append(t.parts, keyPart{lit: rest})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, keyPart{lit: rest[:i]})
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("%q: a {{ without its }}", s)
		}
		p, err := parseDirective(strings.Fields(rest[i+2 : i+j]))
		if err != nil {
			return nil, fmt.Errorf("%q: %w", s, err)
		}
		t.parts = append(t.parts, p)
		rest = rest[i+j+2:]
	}
	for _, p := range t.parts {
		if strings.Contains(p.lit, "}}") {
			return nil, fmt.Errorf("%q: a }} without its {{", s)
		}
	}
	if len(t.parts) == 0 {
		return nil, errors.New("want a routing key template, got nothing")
	}
	n := 0
	for _, p := range t.parts {
		n += len(p.lit)
	}
	if n > maxRoutingKey {
		return nil, fmt.Errorf("%d bytes of text: a routing key has at most %d", n, maxRoutingKey)
	}
	return t, nil
}

func parseDirective(f []string) (keyPart, error) {
	switch {
	case len(f) == 1 && f[0] == "subject":
		return keyPart{kind: "subject"}, nil
	case len(f) == 2 && f[0] == "subject":
		n, err := strconv.Atoi(f[1])
		if err != nil || n < 1 || n > 255 {
			return keyPart{}, fmt.Errorf("{{subject N}}: want N from 1 to 255, got %q", f[1])
		}
		return keyPart{kind: "subject", token: n}, nil
	case len(f) == 2 && f[0] == "header":
		return keyPart{kind: "header", header: f[1]}, nil
	}
	return keyPart{}, fmt.Errorf("unknown directive {{%s}}: want {{subject}}, {{subject N}} or {{header NAME}}", strings.Join(f, " "))
}

// render is the routing key of a message on subject with headers (get
// reads one); an error says why there is none, and makes the message a
// dead letter.
func (t *keyTemplate) render(subject string, get func(string) string) (string, error) {
	var b strings.Builder
	var toks []string
	for _, p := range t.parts {
		switch p.kind {
		case "":
			b.WriteString(p.lit)
		case "subject":
			if p.token == 0 {
				b.WriteString(subject)
				break
			}
			if toks == nil {
				toks = strings.Split(subject, ".")
			}
			if p.token > len(toks) {
				return "", fmt.Errorf("routing_key: subject %q has no token %d", subject, p.token)
			}
			b.WriteString(toks[p.token-1])
		case "header":
			v := get(p.header)
			if v == "" {
				return "", fmt.Errorf("routing_key: no header %s", p.header)
			}
			b.WriteString(v)
		}
		if b.Len() > maxRoutingKey {
			return "", fmt.Errorf("routing_key: longer than %d bytes", maxRoutingKey)
		}
	}
	return b.String(), nil
}
