package transport_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/transport"
)

var pdf = append([]byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n"), bytes.Repeat([]byte("stream data "), 200)...)

// upload streams content as the "file" part of a multipart form; mods
// may change the request (its headers) before it goes.
func (e *env) upload(role, id, conv, name string, content io.Reader, mods ...func(*http.Request)) (*http.Response, transport.ErrorBody, attendance.Attachment) {
	e.t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		_ = mw.WriteField("note", "ignored")
		fw, err := mw.CreateFormFile("file", name)
		if err == nil {
			_, err = io.Copy(fw, content)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequest(http.MethodPost, e.http.URL+"/attachments/?conversation_id="+conv, pr)
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if role != "" {
		req.Header = header(role, id)
		req.Header.Set("Content-Type", mw.FormDataContentType())
	}
	for _, mod := range mods {
		mod(req)
	}
	resp, err := e.http.Client().Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	var eb transport.ErrorBody
	var att attendance.Attachment
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusCreated {
		require.NoError(e.t, json.Unmarshal(b, &att))
	} else {
		require.NoError(e.t, json.Unmarshal(b, &eb), string(b))
	}
	return resp, eb, att
}

func (e *env) download(role, id, blobID string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.http.URL+"/attachments/"+blobID, nil)
	require.NoError(e.t, err)
	req.Header = header(role, id)
	resp, err := e.http.Client().Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp, b
}

// blobFiles lists what the blob store holds on disk, but for the file
// that dates its sweeping.
func (e *env) blobFiles() []string {
	entries, err := os.ReadDir(e.blobs)
	require.NoError(e.t, err)
	var out []string
	for _, de := range entries {
		if de.Name() != ".sweep-epoch" {
			out = append(out, de.Name())
		}
	}
	return out
}

func TestAttachments(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{agents: map[string]attendance.Profile{"ana": profile}})
	ctx := ctxT(t)
	ana, ben := e.dial("agent", "ana"), e.dial("beneficiary", "b1")
	anaEv := record(ana)
	_, err := ana.SetPresence(ctx, attendance.PresenceOnline)
	require.NoError(t, err)
	conv := startChat(t, ctx, ben, ana, anaEv, "billing")

	// A PDF with a hostile name: stored, named safely, with its checksum.
	resp, eb, att := e.upload("beneficiary", "b1", conv, `..\..//../etc/rel"at;ório.exe`, bytes.NewReader(pdf))
	require.Equal(t, http.StatusCreated, resp.StatusCode, eb.Message)
	sum := sha256.Sum256(pdf)
	require.Equal(t, hex.EncodeToString(sum[:]), att.SHA256)
	require.Equal(t, int64(len(pdf)), att.Size)
	require.Equal(t, "application/pdf", att.ContentType)
	require.Equal(t, "relatório.pdf", att.Name)

	// Sent as a message; the agent sees it and downloads the same bytes.
	msg, err := ben.Send(ctx, transport.SendParams{ConversationID: conv, Attachment: &transport.AttachmentRef{BlobID: att.BlobID}})
	require.NoError(t, err)
	require.Equal(t, attendance.KindAttachment, msg.Kind)
	require.Equal(t, att, *msg.Attachment)
	anaEv.wait(t, "attachment", func(r *recorder) bool {
		for _, m := range r.msgs[conv] {
			if m.Kind == attendance.KindAttachment {
				return true
			}
		}
		return false
	})
	dl, body := e.download("agent", "ana", att.BlobID)
	require.Equal(t, http.StatusOK, dl.StatusCode)
	require.Equal(t, pdf, body)
	require.Equal(t, "application/pdf", dl.Header.Get("Content-Type"))
	require.Equal(t, "nosniff", dl.Header.Get("X-Content-Type-Options"))
	require.Contains(t, dl.Header.Get("Content-Disposition"), "attachment")
	// RFC 3230/5843: base64 of the digest's bytes; the ETag keeps the hex.
	require.Equal(t, "sha-256="+base64.StdEncoding.EncodeToString(sum[:]), dl.Header.Get("Digest"))
	require.Equal(t, `"`+hex.EncodeToString(sum[:])+`"`, dl.Header.Get("ETag"))

	// Not a participant: forbidden. No credentials: unauthenticated.
	dl, _ = e.download("beneficiary", "b2", att.BlobID)
	require.Equal(t, http.StatusForbidden, dl.StatusCode)
	dl, _ = e.download("agent", "other", att.BlobID)
	require.Equal(t, http.StatusForbidden, dl.StatusCode)
	dl, _ = e.download("bad", "x", att.BlobID)
	require.Equal(t, http.StatusUnauthorized, dl.StatusCode)
	dl, _ = e.download("agent", "ana", "../../etc/passwd")
	require.Equal(t, http.StatusNotFound, dl.StatusCode)

	// A blob cannot be sent by someone else or to another conversation.
	b2 := e.dial("beneficiary", "b2")
	conv2, err := b2.Open(ctx, "billing")
	require.NoError(t, err)
	_, err = b2.Send(ctx, transport.SendParams{ConversationID: conv2.ID, Attachment: &transport.AttachmentRef{BlobID: att.BlobID}})
	requireClientCode(t, err, transport.CodeForbidden)
	_, err = ben.Send(ctx, transport.SendParams{ConversationID: conv, Attachment: &transport.AttachmentRef{BlobID: "0123456789abcdef0123456789abcdef"}})
	requireClientCode(t, err, transport.CodeNotFound)

	stored := len(e.blobFiles())
	require.Equal(t, 3, stored) // one blob, its metadata and its sent mark

	// The agent serving the conversation may upload too.
	resp, eb, _ = e.upload("agent", "ana", conv, "from-ana.pdf", bytes.NewReader(pdf))
	require.Equal(t, http.StatusCreated, resp.StatusCode, eb.Message)
	stored = len(e.blobFiles())
	require.Equal(t, 5, stored)

	// Refusals store nothing.
	refusals := []struct {
		name    string
		role    string
		who     string
		conv    string
		content io.Reader
		status  int
		code    transport.Code
	}{
		{"invoice.pdf", "beneficiary", "b1", conv, bytes.NewReader(append([]byte("MZ\x90\x00\x03"), make([]byte, 2000)...)), http.StatusUnsupportedMediaType, transport.CodeUnsupportedType},
		{"invoice.pdf", "beneficiary", "b1", conv, bytes.NewReader(append([]byte("\x7fELF\x02\x01"), make([]byte, 2000)...)), http.StatusUnsupportedMediaType, transport.CodeUnsupportedType},
		{"page.pdf", "beneficiary", "b1", conv, strings.NewReader("<html><script>alert(1)</script></html>"), http.StatusUnsupportedMediaType, transport.CodeUnsupportedType},
		{"big.pdf", "beneficiary", "b1", conv, io.MultiReader(bytes.NewReader(pdf), bytes.NewReader(make([]byte, 2<<20))), http.StatusRequestEntityTooLarge, transport.CodeTooLarge},
		{"x.pdf", "beneficiary", "b2", conv, bytes.NewReader(pdf), http.StatusForbidden, transport.CodeForbidden},
		// A supervisor reads the conversation but cannot send in it.
		{"sup.pdf", "supervisor", "sup", conv, bytes.NewReader(pdf), http.StatusForbidden, transport.CodeForbidden},
		{"other.pdf", "agent", "other", conv, bytes.NewReader(pdf), http.StatusForbidden, transport.CodeForbidden},
		{"x.pdf", "bad", "x", conv, bytes.NewReader(pdf), http.StatusUnauthorized, transport.CodeUnauthenticated},
		{"x.pdf", "beneficiary", "b1", "nope", bytes.NewReader(pdf), http.StatusNotFound, transport.CodeNotFound},
		{"empty.pdf", "beneficiary", "b1", conv, strings.NewReader(""), http.StatusBadRequest, transport.CodeInvalidArgument},
	}
	for _, r := range refusals {
		resp, eb, _ := e.upload(r.role, r.who, r.conv, r.name, r.content)
		require.Equal(t, r.status, resp.StatusCode, "%s: %s", r.name, eb.Message)
		require.Equal(t, r.code, eb.Code, r.name)
	}
	require.Len(t, e.blobFiles(), stored, "refused uploads left files: %v", e.blobFiles())
}

func TestSafeFileName(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, ctype, want string }{
		{"report.pdf", "application/pdf", "report.pdf"},
		{"../../etc/passwd", "text/plain; charset=utf-8", "passwd.txt"},
		{`C:\Users\x\photo.JPG`, "image/jpeg", "photo.jpg"},
		{"virus.exe", "application/pdf", "virus.pdf"},
		{"..", "image/png", "file.png"},
		{"", "image/png", "file.png"},
		{".htaccess", "text/plain; charset=utf-8", "htaccess.txt"},
		{"a\x00b\nc\u202e.pdf", "application/pdf", "abc.pdf"},
		{"CON.txt", "text/plain; charset=utf-8", "_CON.txt"},
		{`we"ird;name%.png`, "image/png", "weirdname.png"},
		{strings.Repeat("é", 200) + ".pdf", "application/pdf", strings.Repeat("é", 48) + ".pdf"},
		// Only the first 1 KiB of the last path element is looked at.
		{"dir/" + strings.Repeat("\x01", 2000) + "report.pdf", "application/pdf", "file.pdf"},
		{strings.Repeat("a/", 1000) + "report.pdf", "application/pdf", "report.pdf"},
	} {
		got := transport.SafeFileName(c.in, c.ctype)
		require.Equal(t, c.want, got, c.in)
		require.LessOrEqual(t, len(got), 100)
	}
}

// An upload from a page of another site (its Origin neither the server's
// host nor in OriginPatterns) is refused before anything is read, as the
// WebSocket handshake would be; the server's own pages, allowed origins
// and clients that send no Origin upload as usual.
func TestUploadChecksTheOrigin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cfg: func(c *transport.Config) { c.OriginPatterns = []string{"*.mosia.example"} }})
	ctx := ctxT(t)
	ben := e.dial("beneficiary", "b1")
	conv, err := ben.Open(ctx, "billing")
	require.NoError(t, err)
	origin := func(o string) func(*http.Request) { return func(r *http.Request) { r.Header.Set("Origin", o) } }

	for _, o := range []string{"https://evil.example", "null", "https://mosia.example.evil.example"} {
		resp, eb, _ := e.upload("beneficiary", "b1", conv.ID, "x.pdf", bytes.NewReader(pdf), origin(o))
		require.Equal(t, http.StatusForbidden, resp.StatusCode, o)
		require.Equal(t, transport.CodeForbidden, eb.Code, o)
	}
	require.Empty(t, e.blobFiles())
	for _, o := range []string{e.http.URL, "https://painel.mosia.example"} {
		resp, eb, _ := e.upload("beneficiary", "b1", conv.ID, "x.pdf", bytes.NewReader(pdf), origin(o))
		require.Equal(t, http.StatusCreated, resp.StatusCode, "%s: %s", o, eb.Message)
	}
}

// The upload's Origin rule is the WebSocket handshake's, pattern for
// pattern: whatever coder/websocket admits to the handshake, the upload
// admits, and whatever it refuses, the upload refuses.
func TestUploadOriginRuleMatchesTheHandshake(t *testing.T) {
	t.Parallel()
	for _, patterns := range [][]string{nil, {"*"}, {"*.mosia.example"}, {"https://painel.mosia.example"}, {"[bad"}} {
		e := newEnv(t, envOptions{cfg: func(c *transport.Config) { c.OriginPatterns = patterns }})
		ben := e.dial("beneficiary", "b1")
		conv, err := ben.Open(ctxT(t), "billing")
		require.NoError(t, err)
		for _, o := range []string{"null", "https://evil.example", "https://painel.mosia.example", "http://painel.mosia.example", e.http.URL, "%zz"} {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			ws, _, err := websocket.Dial(ctx, e.wsURL(), &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": header("beneficiary", "b2")["Authorization"], "Origin": {o}}})
			cancel()
			handshake := err == nil
			if ws != nil {
				ws.CloseNow()
			}
			resp, eb, _ := e.upload("beneficiary", "b1", conv.ID, "x.pdf", bytes.NewReader(pdf), func(r *http.Request) { r.Header.Set("Origin", o) })
			require.Equal(t, handshake, resp.StatusCode == http.StatusCreated, "patterns %q, Origin %q: handshake %v, upload %d %s", patterns, o, handshake, resp.StatusCode, eb.Message)
		}
	}
}
