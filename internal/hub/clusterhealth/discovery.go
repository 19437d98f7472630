package clusterhealth

import (
	"sync"
	"time"
)

// discoveryTimes remembers, per cluster, when its APIs were last discovered
// and with which endpoint and credentials, so that discovery runs at the
// status-refresh cadence rather than on every probe.
type discoveryTimes struct {
	mu sync.Mutex
	m  map[string]discoveryMark
}

type discoveryMark struct {
	key string
	at  time.Time
}

// due reports whether cluster's APIs should be discovered now: never in
// this process, with other credentials (key), or at least every ago.
func (d *discoveryTimes) due(cluster, key string, now time.Time, every time.Duration) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, ok := d.m[cluster]
	return !ok || m.key != key || now.Sub(m.at) >= every
}

// mark records a discovery of cluster at now.
func (d *discoveryTimes) mark(cluster, key string, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = map[string]discoveryMark{}
	}
	d.m[cluster] = discoveryMark{key: key, at: now}
}

// forget drops a cluster that left or is no longer probed by the hub.
func (d *discoveryTimes) forget(cluster string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.m, cluster)
}
