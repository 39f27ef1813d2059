package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/skerhq/sker/apierr"
	"golang.org/x/crypto/bcrypt"
)

// Limits on account fields.
const (
	MinPasswordLen = 8   // bytes
	MaxPasswordLen = 256 // bytes
	MaxEmailLen    = 254 // bytes (RFC 5321 path limit)
	MaxNameLen     = 100 // characters
)

// hashPassword hashes pw for storage.
//
// bcrypt reads at most 72 bytes, so two long passwords sharing a 72-byte
// prefix would hash alike. SKER accepts passwords up to MaxPasswordLen bytes
// and feeds bcrypt base64(SHA-256(pw)) instead: 44 bytes, no NUL, every
// byte of the password counts.
func (s *Service) hashPassword(pw string) ([]byte, error) {
	return bcrypt.GenerateFromPassword(prehash(pw), s.cfg.BcryptCost)
}

// checkPassword reports whether pw matches a hash from hashPassword.
func checkPassword(hash []byte, pw string) bool {
	return bcrypt.CompareHashAndPassword(hash, prehash(pw)) == nil
}

func prehash(pw string) []byte {
	sum := sha256.Sum256([]byte(pw))
	out := make([]byte, base64.StdEncoding.EncodedLen(len(sum)))
	base64.StdEncoding.Encode(out, sum[:])
	return out
}

// ValidatePassword checks a new password's length: MinPasswordLen to
// MaxPasswordLen bytes. Content is not restricted.
func ValidatePassword(pw string) error {
	if len(pw) < MinPasswordLen {
		return apierr.Invalid("password", "must be at least 8 bytes long")
	}
	if len(pw) > MaxPasswordLen {
		return apierr.Invalid("password", "must be at most 256 bytes long")
	}
	return nil
}

// NormalizeEmail trims and lower-cases an email address. It does not
// validate it: login uses it for lookups and rate-limit keys as is.
func NormalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// ValidateEmail normalizes email and checks that it is a bare address
// (no display name, no angle brackets) of at most MaxEmailLen bytes.
func ValidateEmail(email string) (string, error) {
	e := NormalizeEmail(email)
	if e == "" {
		return "", apierr.Invalid("email", "is required")
	}
	if len(e) > MaxEmailLen {
		return "", apierr.Invalid("email", "is too long")
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || addr.Name != "" {
		return "", apierr.Invalid("email", "is not a valid email address")
	}
	return e, nil
}

// ValidateName trims name and checks it is 1 to MaxNameLen characters of
// valid UTF-8. An empty name becomes the local part of email.
func ValidateName(name, email string) (string, error) {
	n := strings.TrimSpace(name)
	if n == "" {
		local, _, _ := strings.Cut(email, "@")
		n = truncateRunes(local, MaxNameLen)
	}
	if !utf8.ValidString(n) {
		return "", apierr.Invalid("name", "must be valid UTF-8")
	}
	if utf8.RuneCountInString(n) > MaxNameLen {
		return "", apierr.Invalid("name", "must be at most 100 characters")
	}
	if n == "" {
		return "", apierr.Invalid("name", "is required")
	}
	return n, nil
}

func truncateRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}
