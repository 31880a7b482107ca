package collector

import "sync"

// memo holds values computed once per key while held, at most max of them: past that it
// starts again from none (a service that has seen more keys, over months or from a caller in a
// loop, recomputes what it needs as it goes). A value whose computation failed is not kept.
type memo[K comparable, V any] struct {
	max int
	mu  sync.Mutex
	m   map[K]V
}

// get returns k's value, computing it with compute when it is not held.
func (c *memo[K, V]) get(k K, compute func() (V, error)) (V, error) {
	c.mu.Lock()
	v, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := compute()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= c.max {
		c.m = map[K]V{}
	}
	c.m[k] = v
	return v, nil
}
