package beneficiary

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestTokenTimeRoundTrip: a page token keeps any time.Time, not only those
// Unix nanoseconds can hold.
func TestTokenTimeRoundTrip(t *testing.T) {
	t.Parallel()
	j, err := NewJourney(nopLister{}, nopOccurrences{}, &JourneyConfig{TokenKey: []byte("0123456789abcdef")})
	require.NoError(t, err)
	times := []time.Time{
		{},
		time.Unix(0, 0),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(1677, 9, 21, 0, 12, 43, 145224191, time.UTC),
		time.Date(2262, 4, 11, 23, 47, 16, 854775808, time.UTC),
		time.Date(-4000, 3, 1, 0, 0, 0, 5, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("BRT", -3*3600)),
		time.Unix(1<<62, 999999999),
		time.Unix(-1<<62, 1),
		time.Unix(math.MaxInt64, 0),
		time.Unix(math.MinInt64, 0),
		time.Now(), // with a monotonic reading
	}
	for _, at := range times {
		c, err := j.decodeToken("ben", j.encodeToken("ben", cursor{at: at, id: "event/x"}))
		require.NoError(t, err, at)
		require.True(t, c.at.Equal(at), "%v became %v", at, c.at)
		require.Equal(t, "event/x", c.id)
	}
}

type nopLister struct{ ConversationLister }

type nopOccurrences struct{ Occurrences }
