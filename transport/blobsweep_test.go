package transport_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
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

// A sweep removes the uploads older than its cutoff that no message
// references, and the leftovers of uploads that never finished; a blob
// marked sent stays, and a swept one cannot be marked any more.
func TestFSBlobStoreSweep(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	s, err := transport.NewFSBlobStore(dir)
	require.NoError(t, err)
	sent, unsent := "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
	putBlob(t, s, sent)
	putBlob(t, s, unsent)
	require.NoError(t, s.MarkSent(ctx, sent))
	require.NoError(t, s.MarkSent(ctx, sent), "marking twice is fine")
	// A crashed upload's temporary file, and one still being written.
	stale, fresh := filepath.Join(dir, ".upload-stale"), filepath.Join(dir, ".upload-fresh")
	for _, f := range []string{stale, fresh} {
		require.NoError(t, os.WriteFile(f, pdf, 0o600))
	}
	old := time.Now().Add(-2 * time.Hour)
	require.NoError(t, os.Chtimes(stale, old, old))

	n, err := s.Sweep(ctx, time.Now().Add(-time.Hour))
	require.NoError(t, err)
	require.Zero(t, n, "young uploads are kept")
	require.NoFileExists(t, stale)
	require.FileExists(t, fresh)

	n, err = s.Sweep(ctx, time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = s.Stat(ctx, unsent)
	require.ErrorIs(t, err, transport.ErrBlobNotFound)
	_, err = s.Stat(ctx, sent)
	require.NoError(t, err)
	require.ErrorIs(t, s.MarkSent(ctx, unsent), transport.ErrBlobNotFound)
	require.ErrorIs(t, s.MarkSent(ctx, "../../etc/passwd"), transport.ErrBlobNotFound)

	// Deleting a sent blob takes its mark too.
	require.NoError(t, s.Delete(ctx, sent))
	require.NoFileExists(t, filepath.Join(dir, sent+".sent"))
}

// Through the server: an upload that is never sent goes once it is older
// than UnsentBlobTTL; one that was sent stays, and sending a swept upload
// is not_found.
func TestUnsentUploadsAreSwept(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cfg: func(c *transport.Config) { c.UnsentBlobTTL = 100 * time.Millisecond }})
	ctx := ctxT(t)
	ben := e.dial("beneficiary", "b1")
	conv, err := ben.Open(ctx, "billing")
	require.NoError(t, err)

	resp, eb, kept := e.upload("beneficiary", "b1", conv.ID, "kept.pdf", bytes.NewReader(pdf))
	require.Equal(t, http.StatusCreated, resp.StatusCode, eb.Message)
	_, err = ben.Send(ctx, transport.SendParams{ConversationID: conv.ID, Attachment: &transport.AttachmentRef{BlobID: kept.BlobID}})
	require.NoError(t, err)
	resp, eb, dropped := e.upload("beneficiary", "b1", conv.ID, "dropped.pdf", bytes.NewReader(pdf))
	require.Equal(t, http.StatusCreated, resp.StatusCode, eb.Message)

	// The later upload goes; the earlier, sent one would have gone first
	// had the send not marked it.
	require.Eventually(t, func() bool {
		dl, _ := e.download("beneficiary", "b1", dropped.BlobID)
		return dl.StatusCode == http.StatusNotFound
	}, 10*time.Second, 20*time.Millisecond)
	dl, body := e.download("beneficiary", "b1", kept.BlobID)
	require.Equal(t, http.StatusOK, dl.StatusCode)
	require.Equal(t, pdf, body)

	_, err = ben.Send(context.Background(), transport.SendParams{ConversationID: conv.ID, Attachment: &transport.AttachmentRef{BlobID: dropped.BlobID}})
	requireClientCode(t, err, transport.CodeNotFound)
}
