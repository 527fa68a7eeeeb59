package attendance_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/storagetest"
)

// The randomized tests mix every operation, seeded and reproducible
// (MOSIA_SEED=n to replay one seed), through storagetest.Cluster on the
// memory store, and check the engine's invariants (Cluster.Check):
// sequentially after every step, and concurrently after every round of
// many goroutines.

func seeds(t *testing.T) []uint64 {
	if s := os.Getenv("MOSIA_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
		return []uint64{n}
	}
	return []uint64{1, 2, 3}
}

// oneStore opens the same memory store for every engine of a cluster.
func oneStore() func(*testing.T) attendance.Store {
	s := newStore()
	return func(*testing.T) attendance.Store { return s }
}

func TestRandomizedSequential(t *testing.T) {
	for _, seed := range seeds(t) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			c := storagetest.NewCluster(t, 1, seed, oneStore())
			rng := rand.New(rand.NewPCG(seed, 99))
			for step := range 2500 {
				c.Step(rng)
				c.Check(fmt.Sprintf("seed %d step %d", seed, step), step%100 == 0)
			}
		})
	}
}

func TestRandomizedConcurrent(t *testing.T) {
	const goroutines, rounds, perRound = 8, 40, 40 // 12,800 steps per seed
	for _, seed := range seeds(t) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			c := storagetest.NewCluster(t, 1, seed, oneStore())
			runRounds(c, seed, goroutines, rounds, perRound, false)
		})
	}
}

// TestRandomizedSeveralEngines runs three engines over one store and one bus,
// operations spread across them.
func TestRandomizedSeveralEngines(t *testing.T) {
	const goroutines, rounds, perRound = 6, 30, 40
	c := storagetest.NewCluster(t, 3, 7, oneStore())
	runRounds(c, 7, goroutines, rounds, perRound, true)
}

// runRounds runs rounds of goroutines doing random steps, checking after
// each round; settle lets the engines apply each other's changes first, as
// their sweep would.
func runRounds(c *storagetest.Cluster, seed uint64, goroutines, rounds, perRound int, settle bool) {
	for round := range rounds {
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(seed, uint64(round*goroutines+g)))
				for range perRound {
					c.Step(rng)
				}
			})
		}
		wg.Wait()
		if settle {
			c.Settle()
		}
		c.Check(fmt.Sprintf("seed %d round %d", seed, round), true)
	}
}
