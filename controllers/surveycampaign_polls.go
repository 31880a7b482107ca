package controllers

import (
	"strings"
	"sync"
	"time"
)

// pollTracker remembers, per wave, when its aggregates may next be fetched: soon after they
// last changed, less and less often while they do not. It lives in memory; after a restart
// each collecting wave is fetched once at once.
type pollTracker struct {
	mu    sync.Mutex
	waves map[string]pollState
}

type pollState struct {
	next     time.Time
	interval time.Duration
}

func newPollTracker() *pollTracker { return &pollTracker{waves: map[string]pollState{}} }

// due is when the wave may next be fetched (zero: now).
func (p *pollTracker) due(key string) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waves[key].next
}

// polled records a fetch at now and returns when the next one is due: Min after a change,
// otherwise twice the last interval, at most Max.
func (p *pollTracker) polled(key string, now time.Time, changed bool, policy PollPolicy) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.waves[key]
	switch {
	case changed || s.interval == 0:
		s.interval = policy.Min
	default:
		s.interval = min(2*s.interval, policy.Max)
	}
	s.next = now.Add(s.interval)
	p.waves[key] = s
	return s.next
}

// forget drops a wave (closed).
func (p *pollTracker) forget(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.waves, key)
}

// forgetCampaign drops every wave of a deleted campaign ("namespace/name").
func (p *pollTracker) forgetCampaign(campaign string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.waves {
		if strings.HasPrefix(k, campaign+"/") {
			delete(p.waves, k)
		}
	}
}

// len is how many waves are tracked.
func (p *pollTracker) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.waves)
}
