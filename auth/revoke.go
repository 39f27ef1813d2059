package auth

import "sync"

// RevocationListener hears of credentials that stop working before they
// expire (*gateway.Gateway), so that connections which authenticated with
// them can end at once rather than at their expiry.
type RevocationListener interface {
	// Revoked reports that userID's API token tokenID was deleted or, when
	// tokenID is empty, that userID was signed out everywhere: every
	// access token issued so far is refused.
	Revoked(userID, tokenID string)
	// SessionEnded reports that userID signed out of the sign-in
	// sessionID: its access tokens are refused.
	SessionEnded(userID, sessionID string)
}

// revocations holds the listeners of a Service.
type revocations struct {
	mu        sync.Mutex
	listeners []RevocationListener
}

// OnRevoke adds l to the listeners told of every revocation.
func (s *Service) OnRevoke(l RevocationListener) {
	s.revs.mu.Lock()
	defer s.revs.mu.Unlock()
	s.revs.listeners = append(s.revs.listeners, l)
}

func (s *Service) revoked(userID, tokenID string) {
	s.tell(func(l RevocationListener) { l.Revoked(userID, tokenID) })
}

func (s *Service) sessionEnded(userID, sessionID string) {
	s.tell(func(l RevocationListener) { l.SessionEnded(userID, sessionID) })
}

// tell calls each listener.
func (s *Service) tell(call func(RevocationListener)) {
	s.revs.mu.Lock()
	ls := s.revs.listeners
	s.revs.mu.Unlock()
	for _, l := range ls {
		call(l)
	}
}
