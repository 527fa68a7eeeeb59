package transport_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/transport"
)

// putBlob stores content under id in s.
func putBlob(t *testing.T, s *transport.FSBlobStore, id string) {
	t.Helper()
	err := s.Put(t.Context(), id, bytes.NewReader(pdf), func() (transport.BlobInfo, error) {
		return transport.BlobInfo{ID: id, ConversationID: "c", Uploader: attendance.BeneficiaryPrincipal("b"), Name: "x.pdf",
			ContentType: "application/pdf", Size: int64(len(pdf)), CreatedAt: time.Now()}, nil
	})
	require.NoError(t, err)
}

// age sets the modification time of the files in dir named by names.
func age(t *testing.T, dir string, d time.Duration, names ...string) {
	t.Helper()
	then := time.Now().Add(-d)
	for _, n := range names {
		require.NoError(t, os.Chtimes(filepath.Join(dir, n), then, then))
	}
}

// A sweep removes the uploads older than its cutoff that no message
// references, and leftovers older than a day; it keeps what is marked
// sent, what is young, and what the directory held before it could sweep
// (an upgrade: such blobs may be referenced by messages never marked).
func TestFSBlobStoreSweep(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	legacy := "11111111111111111111111111111111"
	// A blob from before sweeping: its files are older than the store's
	// first open by a version that sweeps.
	for _, f := range []string{legacy + ".blob", legacy + ".json"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte("{}"), 0o600))
	}
	age(t, dir, 72*time.Hour, legacy+".blob", legacy+".json")
	s, err := transport.NewFSBlobStore(dir)
	require.NoError(t, err)

	sent, unsent := "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
	putBlob(t, s, sent)
	putBlob(t, s, unsent)
	require.NoError(t, s.MarkSent(ctx, sent))
	require.NoError(t, s.MarkSent(ctx, sent), "marking twice is fine")
	ok, err := s.Sent(ctx, sent)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = s.Sent(ctx, unsent)
	require.NoError(t, err)
	require.False(t, ok)

	// Leftovers: a crashed upload's and metadata's temporary files, the
	// bytes and the mark of a blob whose metadata is gone; and a young
	// temporary file (an upload in progress).
	orphan := "22222222222222222222222222222222"
	stale := []string{".upload-stale", orphan + ".json.tmp", orphan + ".blob", orphan + ".sent"}
	for _, f := range append(stale, ".upload-fresh") {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), pdf, 0o600))
	}
	age(t, dir, 48*time.Hour, stale...)

	n, err := s.Sweep(ctx, time.Now().Add(-time.Hour))
	require.NoError(t, err)
	require.Zero(t, n, "young uploads are kept")
	for _, f := range stale {
		require.NoFileExists(t, filepath.Join(dir, f))
	}
	require.FileExists(t, filepath.Join(dir, ".upload-fresh"))

	n, err = s.Sweep(ctx, time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = s.Stat(ctx, unsent)
	require.ErrorIs(t, err, transport.ErrBlobNotFound)
	for _, id := range []string{sent, legacy} {
		require.FileExists(t, filepath.Join(dir, id+".json"), id)
	}
	require.ErrorIs(t, s.MarkSent(ctx, unsent), transport.ErrBlobNotFound)
	require.ErrorIs(t, s.MarkSent(ctx, "../../etc/passwd"), transport.ErrBlobNotFound)
	_, err = s.Sent(ctx, "../x")
	require.ErrorIs(t, err, transport.ErrBlobNotFound)

	// Deleting a sent blob takes its mark too.
	require.NoError(t, s.Delete(ctx, sent))
	require.NoFileExists(t, filepath.Join(dir, sent+".sent"))
}

// Through the server: an upload that is never sent, or whose send was
// refused, goes once it is older than UnsentBlobTTL; one that was sent
// stays. An upload older than half the TTL can no longer be sent
// (not_found), so the sweep never meets a send.
func TestUnsentUploadsAreSwept(t *testing.T) {
	t.Parallel()
	const ttl = 4 * time.Second // sends right after an upload must come within ttl/2, even on a loaded machine
	e := newEnv(t, envOptions{cfg: func(c *transport.Config) { c.UnsentBlobTTL = ttl }})
	ctx := ctxT(t)
	ben := e.dial("beneficiary", "b1")
	conv, err := ben.Open(ctx, "billing")
	require.NoError(t, err)
	upload := func(name string) attendance.Attachment {
		resp, eb, att := e.upload("beneficiary", "b1", conv.ID, name, bytes.NewReader(pdf))
		require.Equal(t, http.StatusCreated, resp.StatusCode, eb.Message)
		return att
	}
	send := func(att attendance.Attachment, body string) error {
		_, err := ben.Send(context.Background(), transport.SendParams{ConversationID: conv.ID, Body: body, Attachment: &transport.AttachmentRef{BlobID: att.BlobID}})
		return err
	}

	kept := upload("kept.pdf")
	require.NoError(t, send(kept, ""))
	refused := upload("refused.pdf")
	requireClientCode(t, send(refused, strings.Repeat("x", 5000)), transport.CodeMessageTooLarge)
	dropped := upload("dropped.pdf")

	// Past half the TTL, the unsent upload cannot be sent any more.
	time.Sleep(ttl/2 + 100*time.Millisecond)
	requireClientCode(t, send(dropped, ""), transport.CodeNotFound)

	// The later uploads go; the earlier, sent one would have gone first
	// had the send not marked it.
	for _, att := range []attendance.Attachment{refused, dropped} {
		require.Eventually(t, func() bool {
			dl, _ := e.download("beneficiary", "b1", att.BlobID)
			return dl.StatusCode == http.StatusNotFound
		}, 10*time.Second, 20*time.Millisecond, att.Name)
	}
	dl, body := e.download("beneficiary", "b1", kept.BlobID)
	require.Equal(t, http.StatusOK, dl.StatusCode)
	require.Equal(t, pdf, body)
	// A sent upload stays sendable (a retried send, say), whatever its age.
	require.NoError(t, send(kept, "again"))
}
