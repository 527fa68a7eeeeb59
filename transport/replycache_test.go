package transport

import (
	"strconv"
	"testing"
)

func TestReplyCacheKeepsTheLastReplies(t *testing.T) {
	c := newReplyCache(4)
	if _, ok := c.get("a"); ok {
		t.Fatal("an empty cache found a reply")
	}
	for i := range 6 {
		c.put("id"+strconv.Itoa(i), []byte{byte(i)})
	}
	for i := range 6 {
		b, ok := c.get("id" + strconv.Itoa(i))
		if want := i >= 2; ok != want {
			t.Fatalf("id%d: found %v, want %v (the 4 newest are kept)", i, ok, want)
		}
		if ok && (len(b) != 1 || b[0] != byte(i)) {
			t.Fatalf("id%d: reply %v", i, b)
		}
	}
}
