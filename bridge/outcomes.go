package bridge

import "sync"

// outcomes remembers the final outcomes of the latest commands, so that a
// command delivered again is answered as the first time, a rejection
// included (the canvas remembers only what it committed). The oldest is
// forgotten first. A key names the user, the canvas and the command's id,
// so that one user's message id never answers another's command.
type outcomes struct {
	mu   sync.Mutex
	m    map[string]outcome
	keys []string // ring of keys, oldest at next
	next int
}

func newOutcomes(capacity int) *outcomes {
	return &outcomes{m: make(map[string]outcome, capacity), keys: make([]string, capacity)}
}

func outcomeKey(userID, canvasID, id string) string {
	if id == "" {
		return ""
	}
	return userID + "\x00" + canvasID + "\x00" + id
}

func (o *outcomes) get(key string) (outcome, bool) {
	if key == "" {
		return outcome{}, false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	v, ok := o.m[key]
	return v, ok
}

func (o *outcomes) put(key string, v outcome) {
	if key == "" {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.m[key]; ok {
		return // the first outcome stays
	}
	if old := o.keys[o.next]; old != "" {
		delete(o.m, old)
	}
	o.keys[o.next] = key
	o.next = (o.next + 1) % len(o.keys)
	o.m[key] = v
}
