package transport_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/transport"
)

// openConv opens a conversation for a beneficiary straight on the engine;
// with no agent online it stays queued, where its beneficiary may upload.
func (e *env) openConv(benef string) string {
	e.t.Helper()
	c, err := e.eng.Open(ctxT(e.t), attendance.BeneficiaryPrincipal(benef), attendance.OpenParams{SubjectID: "billing"})
	require.NoError(e.t, err)
	return c.ID
}

// postRaw posts body as an upload with the given Content-Type and returns
// the status and the JSON error body (zero on success).
func (e *env) postRaw(role, id, conv, contentType string, body io.Reader) (int, transport.ErrorBody) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(ctxT(e.t), http.MethodPost, e.http.URL+"/attachments/?conversation_id="+conv, body)
	require.NoError(e.t, err)
	req.Header = header(role, id)
	req.Header.Set("Content-Type", contentType)
	resp, err := e.http.Client().Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var eb transport.ErrorBody
	if resp.StatusCode != http.StatusCreated {
		require.NoError(e.t, json.Unmarshal(b, &eb), string(b))
	}
	return resp.StatusCode, eb
}

// heldUpload is an upload whose body the test writes by hand, through a
// pipe, while the request is in flight.
type heldUpload struct {
	t    *testing.T
	pw   *io.PipeWriter
	mw   *multipart.Writer
	fw   io.Writer
	done chan heldResult
}

type heldResult struct {
	status int
	body   transport.ErrorBody
	err    error
}

// startUpload sends the request and the headers of a "file" part (after a
// form field), and returns with the request in flight.
func (e *env) startUpload(role, id, conv string) *heldUpload {
	e.t.Helper()
	pr, pw := io.Pipe()
	h := &heldUpload{t: e.t, pw: pw, mw: multipart.NewWriter(pw), done: make(chan heldResult, 1)}
	e.t.Cleanup(func() { pw.Close() })
	ctx := ctxT(e.t)
	// A request blocked on reading its body ignores its context: the
	// test's deadline must end the body too.
	context.AfterFunc(ctx, func() { pw.CloseWithError(ctx.Err()) })
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.http.URL+"/attachments/?conversation_id="+conv, pr)
	require.NoError(e.t, err)
	req.Header = header(role, id)
	req.Header.Set("Content-Type", h.mw.FormDataContentType())
	go func() {
		resp, err := e.http.Client().Do(req)
		if err != nil {
			h.done <- heldResult{err: err}
			return
		}
		defer resp.Body.Close()
		r := heldResult{status: resp.StatusCode}
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusCreated {
			err = json.Unmarshal(b, &r.body)
		}
		r.err = err
		h.done <- r
	}()
	require.NoError(e.t, h.mw.WriteField("note", "first"))
	h.fw, err = h.mw.CreateFormFile("file", "held.pdf")
	require.NoError(e.t, err)
	return h
}

// write sends more of the file's content.
func (h *heldUpload) write(b []byte) {
	h.t.Helper()
	_, err := h.fw.Write(b)
	require.NoError(h.t, err)
}

// finish ends the form and the body and returns the answer.
func (h *heldUpload) finish() heldResult {
	h.t.Helper()
	require.NoError(h.t, h.mw.Close())
	require.NoError(h.t, h.pw.Close())
	return <-h.done
}

// Everything before the file's content is held to 64 KiB: a huge name in
// the part's header, many fields before the file or a long preamble are
// refused (413 too_large) and keep nothing, while a normal upload, or one
// with a long but bounded name, still goes through.
func TestUploadEnvelopeLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	conv := e.openConv("b1")

	// A 1 MiB name: below MaxAttachmentBytes + 64 KiB, the old only cap.
	resp, eb, _ := e.upload("beneficiary", "b1", conv, strings.Repeat("n", 1<<20)+".pdf", bytes.NewReader(pdf))
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, eb.Message)
	require.Equal(t, transport.CodeTooLarge, eb.Code)
	require.Empty(t, e.blobFiles())

	// Fields before the file, 100 KiB in all.
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	for i := range 100 {
		require.NoError(t, mw.WriteField(fmt.Sprintf("f%d", i), strings.Repeat("v", 1<<10)))
	}
	fw, err := mw.CreateFormFile("file", "x.pdf")
	require.NoError(t, err)
	_, err = fw.Write(pdf)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	status, eb := e.postRaw("beneficiary", "b1", conv, mw.FormDataContentType(), &form)
	require.Equal(t, http.StatusRequestEntityTooLarge, status, eb.Message)
	require.Equal(t, transport.CodeTooLarge, eb.Code)

	// A 100 KiB preamble of short lines.
	const boundary = "b0undary"
	raw := strings.Repeat(strings.Repeat("p", 98)+"\r\n", 1024) +
		"--" + boundary + "\r\n" +
		`Content-Disposition: form-data; name="file"; filename="x.pdf"` + "\r\n\r\n" +
		string(pdf) + "\r\n--" + boundary + "--\r\n"
	status, eb = e.postRaw("beneficiary", "b1", conv, "multipart/form-data; boundary="+boundary, strings.NewReader(raw))
	require.Equal(t, http.StatusRequestEntityTooLarge, status, eb.Message)
	require.Equal(t, transport.CodeTooLarge, eb.Code)
	require.Empty(t, e.blobFiles(), "refused uploads left files")

	// Within the budget: a 10 KiB name is accepted, cut and cleaned.
	resp, eb, att := e.upload("beneficiary", "b1", conv, strings.Repeat("n", 10<<10)+".pdf", bytes.NewReader(pdf))
	require.Equal(t, http.StatusCreated, resp.StatusCode, eb.Message)
	require.LessOrEqual(t, len(att.Name), 100)
	require.True(t, strings.HasSuffix(att.Name, ".pdf"), att.Name)
	// And a normal one.
	resp, eb, att = e.upload("beneficiary", "b1", conv, "exame.pdf", bytes.NewReader(pdf))
	require.Equal(t, http.StatusCreated, resp.StatusCode, eb.Message)
	require.Equal(t, "exame.pdf", att.Name)
	require.Len(t, e.blobFiles(), 4)
}

// signalStore is a BlobStore that says when an upload reaches Put: by then
// the upload holds its slot, and its content is being stored.
type signalStore struct {
	transport.BlobStore
	puts chan struct{}
}

func (s *signalStore) Put(ctx context.Context, id string, r io.Reader, info func() (transport.BlobInfo, error)) error {
	s.puts <- struct{}{}
	return s.BlobStore.Put(ctx, id, r, info)
}

// A principal has at most MaxConcurrentUploads uploads in progress; one
// more gets 429 too_many_uploads and keeps nothing; others are not held
// back; when the uploads end the principal may upload again.
func TestUploadConcurrencyLimit(t *testing.T) {
	t.Parallel()
	puts := make(chan struct{}, 16)
	e := newEnv(t, envOptions{cfg: func(c *transport.Config) {
		c.MaxConcurrentUploads = 2
		c.Blobs = &signalStore{BlobStore: c.Blobs, puts: puts}
	}})
	conv, other := e.openConv("b1"), e.openConv("b2")
	ctx := ctxT(t)

	held := []*heldUpload{e.startUpload("beneficiary", "b1", conv), e.startUpload("beneficiary", "b1", conv)}
	for _, h := range held {
		h.write(pdf[:1024]) // past the 512 bytes sniffed: Put starts
	}
	for range held {
		select {
		case <-puts:
		case <-ctx.Done():
			t.Fatal("the held uploads did not reach the blob store")
		}
	}

	resp, eb, _ := e.upload("beneficiary", "b1", conv, "third.pdf", bytes.NewReader(pdf))
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, eb.Message)
	require.Equal(t, transport.CodeTooManyUploads, eb.Code)
	// A second handler of the same server counts the same uploads.
	req := httptest.NewRequest(http.MethodPost, "/?conversation_id="+conv, bytes.NewReader(pdf))
	req.Header = header("beneficiary", "b1")
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	rec := httptest.NewRecorder()
	e.srv.AttachmentHandler().ServeHTTP(rec, req)
	require.Equal(t, http.StatusTooManyRequests, rec.Code, rec.Body.String())
	// Only the held uploads' temporary files are there.
	files := e.blobFiles()
	require.Len(t, files, 2, "the refused upload left files: %v", files)
	for _, f := range files {
		require.True(t, strings.HasPrefix(f, ".upload-"), f)
	}
	// Another principal is not held back.
	resp, eb, _ = e.upload("beneficiary", "b2", other, "b2.pdf", bytes.NewReader(pdf))
	require.Equal(t, http.StatusCreated, resp.StatusCode, eb.Message)
	<-puts

	for _, h := range held {
		h.write(pdf[1024:])
		r := h.finish()
		require.NoError(t, r.err)
		require.Equal(t, http.StatusCreated, r.status, r.body.Message)
	}
	resp, eb, _ = e.upload("beneficiary", "b1", conv, "again.pdf", bytes.NewReader(pdf))
	require.Equal(t, http.StatusCreated, resp.StatusCode, eb.Message)
	require.Len(t, e.blobFiles(), 8) // four blobs and their metadata
}

// An upload whose body stops arriving fails after UploadIdleTimeout with
// 408 upload_timeout, whether it stalls before the file or inside it, and
// keeps nothing. No assertion on how long it took: without the timeout
// the request would wait for the test's own deadline and fail there.
func TestUploadIdleTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cfg: func(c *transport.Config) {
		c.UploadIdleTimeout = 300 * time.Millisecond
	}})
	conv := e.openConv("b1")
	for _, c := range []struct {
		name string
		send func(h *heldUpload)
	}{
		{"in the envelope", func(h *heldUpload) {}}, // part headers sent, no content
		{"in the file", func(h *heldUpload) { h.write(pdf[:1024]) }},
	} {
		h := e.startUpload("beneficiary", "b1", conv)
		c.send(h)
		r := <-h.done
		require.NoError(t, r.err, "%s: the stalled upload was never cut", c.name)
		require.Equal(t, http.StatusRequestTimeout, r.status, "%s: %s", c.name, r.body.Message)
		require.Equal(t, transport.CodeUploadTimeout, r.body.Code, c.name)
		require.Empty(t, e.blobFiles(), "%s: the stalled upload left files", c.name)
		h.pw.Close()
	}
}

// The idle timeout never pushes the read deadline past the http.Server's
// ReadTimeout: an upload that trickles a byte at a time, well within the
// idle timeout, still ends there.
func TestUploadTrickleEndsAtReadTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{listener: func(hs *httptest.Server) { hs.Config.ReadTimeout = time.Second }})
	conv := e.openConv("b1")
	h := e.startUpload("beneficiary", "b1", conv)
	go func() {
		for range 400 { // 20s of trickle: far past the ReadTimeout
			if _, err := h.fw.Write(pdf[:1]); err != nil {
				return // the request ended
			}
			time.Sleep(50 * time.Millisecond)
		}
		h.mw.Close()
		h.pw.Close()
	}()
	r := <-h.done
	require.NoError(t, r.err)
	require.Equal(t, http.StatusRequestTimeout, r.status, r.body.Message)
	require.Equal(t, transport.CodeUploadTimeout, r.body.Code)
	require.Empty(t, e.blobFiles())
}

// A quoted-printable file part (which multipart decodes) of soft line
// breaks decodes to nothing, so the stored size never grows: the body's
// own budget for the file stops it.
func TestUploadQuotedPrintableIsBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	conv := e.openConv("b1")
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="x.pdf"`)
		h.Set("Content-Transfer-Encoding", "quoted-printable")
		fw, err := mw.CreatePart(h)
		if err == nil {
			_, err = fw.Write([]byte("%PDF-1.4\r\n"))
		}
		soft := bytes.Repeat([]byte("=\r\n"), 4<<10)
		for i := 0; err == nil && i < 200; i++ { // 2.4 MiB of nothing
			_, err = fw.Write(soft)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	status, eb := e.postRaw("beneficiary", "b1", conv, mw.FormDataContentType(), pr)
	require.Equal(t, http.StatusRequestEntityTooLarge, status, eb.Message)
	require.Equal(t, transport.CodeTooLarge, eb.Code)
	require.Empty(t, e.blobFiles())
}

// Served without read deadlines (here an httptest.ResponseRecorder, which
// has none), uploads still work.
func TestUploadWithoutReadDeadline(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	conv := e.openConv("b1")
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, err := mw.CreateFormFile("file", "x.pdf")
	require.NoError(t, err)
	_, err = fw.Write(pdf)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	req := httptest.NewRequest(http.MethodPost, "/?conversation_id="+conv, &form)
	req.Header = header("beneficiary", "b1")
	req.Header.Set("Content-Type", mw.FormDataContentType())
	rec := httptest.NewRecorder()
	e.srv.AttachmentHandler().ServeHTTP(rec, req)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	require.Len(t, e.blobFiles(), 2)
}

// A wrong method gets 405 with Allow and a JSON error; with no blob store
// the handler answers 404 as JSON too.
func TestAttachmentHTTPErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodPut, e.http.URL+"/attachments/0123456789abcdef0123456789abcdef", strings.NewReader("x"))
	require.NoError(t, err)
	req.Header = header("beneficiary", "b1")
	resp, err := e.http.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	require.Equal(t, "GET, HEAD, POST", resp.Header.Get("Allow"))
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var eb transport.ErrorBody
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&eb))
	require.Equal(t, transport.CodeMethodNotAllowed, eb.Code)

	off := newEnv(t, envOptions{cfg: func(c *transport.Config) { c.Blobs = nil }})
	dl, body := off.download("beneficiary", "b1", "0123456789abcdef0123456789abcdef")
	require.Equal(t, http.StatusNotFound, dl.StatusCode)
	require.Equal(t, "application/json", dl.Header.Get("Content-Type"))
	require.NoError(t, json.Unmarshal(body, &eb), string(body))
	require.Equal(t, transport.CodeNotFound, eb.Code)
}
