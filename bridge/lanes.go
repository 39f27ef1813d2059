package bridge

import "sync"

// lanes runs jobs with one goroutine per lane at a time: the jobs of one
// lane (one canvas) one after another in the order they came, different
// lanes side by side. A lane's goroutine ends when its lane is empty. The
// jobs waiting are bounded by the channel's prefetch.
type lanes struct {
	work func(*job)
	mu   sync.Mutex
	q    map[string][]*job // a lane is in q while its goroutine runs
	wg   sync.WaitGroup
}

func newLanes(work func(*job)) *lanes {
	return &lanes{work: work, q: map[string][]*job{}}
}

func (l *lanes) dispatch(j *job) {
	key := j.lane()
	l.mu.Lock()
	q, running := l.q[key]
	l.q[key] = append(q, j)
	l.mu.Unlock()
	if !running {
		l.wg.Add(1)
		go l.drain(key)
	}
}

func (l *lanes) drain(key string) {
	defer l.wg.Done()
	for {
		l.mu.Lock()
		q := l.q[key]
		if len(q) == 0 {
			delete(l.q, key)
			l.mu.Unlock()
			return
		}
		j := q[0]
		q[0] = nil
		l.q[key] = q[1:]
		l.mu.Unlock()
		l.work(j)
	}
}

// wait waits until every lane is empty.
func (l *lanes) wait() { l.wg.Wait() }
