package attendance

import (
	"testing"

	"github.com/google/uuid"
)

func TestNewRandomIDIsAVersion4UUID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		s := newRandomID()
		u, err := uuid.Parse(s)
		if err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 || u.String() != s || seen[s] {
			t.Fatalf("%q: %v version %d variant %v repeated %v", s, err, u.Version(), u.Variant(), seen[s])
		}
		seen[s] = true
	}
}
