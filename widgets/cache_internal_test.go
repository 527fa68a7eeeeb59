package widgets

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// checkCache verifies that the map and the heap hold the same entries and
// that the heap is ordered by expiry.
func checkCache(t *testing.T, c *cache) {
	t.Helper()
	require.Len(t, c.byExp, len(c.entries))
	for i, it := range c.byExp {
		require.Equal(t, i, it.index)
		require.Same(t, c.entries[it.key], it)
		if i > 0 {
			parent := c.byExp[(i-1)/2]
			require.False(t, it.entry.expires.Before(parent.entry.expires), "heap order at %d", i)
		}
	}
}

// TestCacheByteBound: the cache keeps at most maxBytes of content, making
// room as for its entry bound (the soonest to expire goes first), counts a
// replaced entry once, and does not keep a result bigger than the bound.
func TestCacheByteBound(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	c := newCache(100, 300)
	entry := func(size int, ttl time.Duration) cacheEntry {
		return cacheEntry{expires: now.Add(ttl), size: size}
	}
	c.put("a", entry(100, 3*time.Second), now)
	c.put("b", entry(100, 1*time.Second), now)
	c.put("c", entry(100, 2*time.Second), now)
	c.put("c", entry(100, 2*time.Second), now) // replaced, counted once
	require.Equal(t, 300, c.bytes)
	require.Equal(t, 3, c.size())

	c.put("d", entry(150, time.Hour), now) // needs room: b then c go
	require.Equal(t, 250, c.bytes)
	for k, want := range map[string]bool{"a": true, "b": false, "c": false, "d": true} {
		_, ok := c.get(k, now)
		require.Equal(t, want, ok, k)
	}
	checkCache(t, c)

	c.put("huge", entry(301, time.Hour), now)
	_, ok := c.get("huge", now)
	require.False(t, ok, "a result above the bound is not kept")
	require.Equal(t, 250, c.bytes, "and evicts nothing")

	// A newer result for a key, too big to keep, still drops the older
	// one: a refresh never leaves a stale result to be served.
	c.put("a", entry(301, time.Hour), now)
	_, ok = c.get("a", now)
	require.False(t, ok, "the stale result of a is still served")
	require.Equal(t, 150, c.bytes)
	checkCache(t, c)
}

// TestCacheBoundAndExpiry: the cache never holds more than its capacity; a
// full cache drops expired entries first, then those closest to expiry; an
// expired entry is never returned; replacing a key does not evict.
func TestCacheBoundAndExpiry(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	c := newCache(4, 1<<30)
	for i := range 4 {
		c.put(fmt.Sprint("k", i), cacheEntry{expires: now.Add(time.Duration(i+1) * time.Second)}, now)
	}
	checkCache(t, c)
	c.put("k3", cacheEntry{expires: now.Add(time.Hour)}, now) // replaces, no eviction
	require.Equal(t, 4, c.size())
	_, ok := c.get("k0", now)
	require.True(t, ok)

	c.put("k4", cacheEntry{expires: now.Add(30 * time.Second)}, now) // evicts k0, the soonest
	require.Equal(t, 4, c.size())
	_, ok = c.get("k0", now)
	require.False(t, ok)
	checkCache(t, c)

	later := now.Add(2 * time.Second) // k1 expires at 2s
	_, ok = c.get("k1", later)
	require.False(t, ok, "expired")
	require.Equal(t, 3, c.size(), "an expired entry read is dropped")
	checkCache(t, c)

	much := now.Add(time.Minute) // k2 and k4 expired, k3 (1h) not
	c.put("k5", cacheEntry{expires: much.Add(time.Second)}, much)
	require.Equal(t, 4, c.size(), "not full: nothing dropped")
	c.put("k6", cacheEntry{expires: much.Add(2 * time.Second)}, much)
	require.Equal(t, 3, c.size(), "full: both expired entries dropped")
	for _, k := range []string{"k3", "k5", "k6"} {
		_, ok := c.get(k, much)
		require.True(t, ok, k)
	}
	checkCache(t, c)
}

// refCache is the cache as it was before the heap: a map scanned on every
// insert into a full cache. The heap must keep its behaviour.
type refCache struct {
	max     int
	entries map[string]time.Time
}

func (c *refCache) get(key string, now time.Time) bool {
	exp, ok := c.entries[key]
	if ok && !now.Before(exp) {
		delete(c.entries, key)
		return false
	}
	return ok
}

func (c *refCache) put(key string, exp, now time.Time) {
	if _, exists := c.entries[key]; !exists && len(c.entries) >= c.max {
		for k, old := range c.entries {
			if !now.Before(old) {
				delete(c.entries, k)
			}
		}
		for len(c.entries) >= c.max {
			var victim string
			var soonest time.Time
			for k, old := range c.entries {
				if victim == "" || old.Before(soonest) {
					victim, soonest = k, old
				}
			}
			delete(c.entries, victim)
		}
	}
	c.entries[key] = exp
}

// TestCacheMatchesReference: random puts and gets leave the cache with the
// same entries as the scanning reference (expiries are distinct, so the
// victim is never a tie).
func TestCacheMatchesReference(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	c := newCache(16, 1<<30)
	ref := &refCache{max: 16, entries: map[string]time.Time{}}
	for i := range 5000 {
		key := fmt.Sprint("k", rng.IntN(40))
		if rng.IntN(3) == 0 {
			_, got := c.get(key, now)
			require.Equal(t, ref.get(key, now), got, "get %s at op %d", key, i)
		} else {
			exp := now.Add(time.Duration(rng.IntN(60))*time.Second + time.Duration(i)) // distinct
			c.put(key, cacheEntry{expires: exp}, now)
			ref.put(key, exp, now)
		}
		require.LessOrEqual(t, c.size(), 16)
		require.Equal(t, len(ref.entries), c.size(), "op %d", i)
		for k, exp := range ref.entries {
			it, ok := c.entries[k]
			require.True(t, ok, "op %d: %s missing", i, k)
			require.Equal(t, exp, it.entry.expires)
		}
		now = now.Add(time.Duration(rng.IntN(1500)) * time.Millisecond)
	}
	checkCache(t, c)
}

// BenchmarkCachePutFull inserts into a full cache of the default size.
func BenchmarkCachePutFull(b *testing.B) {
	c := newCache(DefaultMaxCacheEntries, 1<<30)
	now := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	for i := range DefaultMaxCacheEntries {
		c.put(fmt.Sprint(i), cacheEntry{expires: now.Add(time.Hour + time.Duration(i))}, now)
	}
	i := 0
	for b.Loop() {
		c.put(fmt.Sprint("k", i), cacheEntry{expires: now.Add(2*time.Hour + time.Duration(i))}, now)
		i++
	}
}
