package transport

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// An upload's reads never go past the host's ReadTimeout counted from the
// handler's start (which serveAttachment takes before the Authenticate
// hook, however slow), not from when the body is first read.
func TestUploadDeadlineCountsFromTheHandlersStart(t *testing.T) {
	t.Parallel()
	hs := &http.Server{ReadTimeout: time.Second}
	r := httptest.NewRequest(http.MethodPost, "/attachments/", nil)
	r = r.WithContext(context.WithValue(r.Context(), http.ServerContextKey, hs))
	start := time.Now().Add(-700 * time.Millisecond) // a slow Authenticate ran since
	b := newUploadBody(httptest.NewRecorder(), r, 30*time.Second, start)
	require.Equal(t, start.Add(time.Second), b.hard)

	r = httptest.NewRequest(http.MethodPost, "/attachments/", nil) // a server without ReadTimeout
	require.True(t, newUploadBody(httptest.NewRecorder(), r, 30*time.Second, start).hard.IsZero())
}
