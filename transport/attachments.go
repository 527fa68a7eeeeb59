package transport

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mosiachat/mosiachat/attendance"
)

const (
	// envelopeBytes bounds what an upload may send before the content of
	// its file part (preamble, part headers, the parts skipped before it),
	// and what may follow that content (the closing boundary).
	envelopeBytes = 64 << 10
	// maxRawFileName is how much of a client's file name SafeFileName
	// looks at.
	maxRawFileName = 1 << 10
)

// AttachmentHandler returns the HTTP handler for attachments, to be mounted
// under a prefix with http.StripPrefix (see docs/protocol.md):
//
//   - POST /?conversation_id=ID with a multipart/form-data body whose part
//     "file" holds the file: the file is streamed to Config.Blobs, checked
//     (size, type sniffed from the content, name) and answered with 201 and
//     the attendance.Attachment as JSON. Send it with a send command whose
//     attachment names its blob_id. Only a principal who may send in the
//     conversation now may upload: its beneficiary while it is open, or
//     the agent (or supervisor) it is assigned to while it is active.
//     Everything before the file's content counts against a 64 KiB budget
//     (413 too_large beyond it); the body must keep arriving
//     (Config.UploadIdleTimeout, else 408 upload_timeout); a principal has
//     at most Config.MaxConcurrentUploads uploads in progress (429
//     too_many_uploads beyond).
//   - GET /{blob_id}: the file, for the participants of its conversation
//     (attendance.Engine.AuthorizeView decides).
//
// Another method gets 405 method_not_allowed with an Allow header. Errors
// are JSON {"code","message"} with the status of CodeOf. The handlers
// returned by several calls share the server's count of uploads in
// progress.
func (s *Server) AttachmentHandler() http.Handler {
	return http.HandlerFunc(s.serveAttachment)
}

func (s *Server) serveAttachment(w http.ResponseWriter, r *http.Request) {
	start := time.Now() // an upload's ReadTimeout counts from here
	if _, ok := s.running(); !ok {
		writeHTTPError(w, ErrServerClosed)
		return
	}
	if s.cfg.Blobs == nil {
		writeHTTPError(w, fmt.Errorf("%w: attachments are not enabled on this server", attendance.ErrNotFound))
		return
	}
	if r.Method == http.MethodPost && !s.originAllowed(r) {
		// A page of another site posting with the user's cookies.
		writeHTTPError(w, fmt.Errorf("%w: uploads from origin %.100q are not allowed", attendance.ErrForbidden, r.Header.Get("Origin")))
		return
	}
	p, err := s.authenticate(r)
	if err != nil {
		writeHTTPError(w, err)
		return
	}
	switch r.Method {
	case http.MethodPost:
		s.serveUpload(w, r, p, start)
	case http.MethodGet, http.MethodHead:
		s.download(w, r, p)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		writeHTTPError(w, fmt.Errorf("%w: %.20q", errMethodNotAllowed, r.Method))
	}
}

// originAllowed reports whether r may upload as far as its Origin header
// says, by the rule coder/websocket applies to the handshake: no Origin
// (not a browser), the request's own host, or a host matching
// Config.OriginPatterns, case-insensitively (a pattern with "://" matches
// scheme://host; an Origin without a host, such as "null", is matched
// with an empty host, so only a pattern like "*" admits it). A malformed
// pattern admits nothing.
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, pattern := range s.cfg.OriginPatterns {
		target := u.Host
		if strings.Contains(pattern, "://") {
			target = u.Scheme + "://" + u.Host
		}
		ok, err := path.Match(strings.ToLower(pattern), strings.ToLower(target))
		if err != nil {
			return false
		}
		if ok {
			return true
		}
	}
	return false
}

// serveUpload runs an upload, whose handler started at start, and answers
// it. The upload's slot is released and its body finished (see
// uploadBody.finish) before the answer is written, so a client that has its
// answer may upload again.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request, p attendance.Principal, start time.Time) {
	body := newUploadBody(w, r, s.cfg.UploadIdleTimeout, start)
	att, err := s.uploadSlot(r, p, body)
	body.finish()
	if err != nil {
		s.log.Info("transport: upload refused", "principal", p.ID, "err", err)
		writeHTTPError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(att)
}

// uploadSlot runs upload in one of p's Config.MaxConcurrentUploads slots.
func (s *Server) uploadSlot(r *http.Request, p attendance.Principal, body *uploadBody) (attendance.Attachment, error) {
	limit := s.cfg.MaxConcurrentUploads
	if !s.uploads.acquire(p, limit) {
		return attendance.Attachment{}, fmt.Errorf("%w: %d already in progress", errTooManyUploads, limit)
	}
	defer s.uploads.release(p)
	return s.upload(r.Context(), r, p, body)
}

func (s *Server) upload(ctx context.Context, r *http.Request, p attendance.Principal, body *uploadBody) (attendance.Attachment, error) {
	// Only who may send in the conversation now may upload to it.
	c, err := s.eng.AuthorizeSend(ctx, p, r.URL.Query().Get("conversation_id"))
	if err != nil {
		return attendance.Attachment{}, err
	}
	limit := s.cfg.MaxAttachmentBytes
	if r.ContentLength > limit+2*envelopeBytes {
		return attendance.Attachment{}, fmt.Errorf("%w: body of %d bytes, limit %d", ErrTooLarge, r.ContentLength, limit)
	}
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/form-data" || params["boundary"] == "" {
		return attendance.Attachment{}, fmt.Errorf("%w: expected a multipart/form-data body", ErrBadRequest)
	}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err != nil {
			if failed := body.failure(); failed != nil {
				return attendance.Attachment{}, failed
			}
			return attendance.Attachment{}, fmt.Errorf("%w: no part named \"file\" in the form", ErrBadRequest)
		}
		if part.FormName() != "file" {
			part.Close()
			continue
		}
		// The file's headers are parsed: from here its content is counted
		// exactly by storeUpload, and what follows it is small.
		body.raise(limit+envelopeBytes, fmt.Errorf("%w: limit %d bytes", ErrTooLarge, limit))
		defer part.Close()
		att, err := s.storeUpload(ctx, part, part.FileName(), c.ID, p)
		if failed := body.failure(); err != nil && failed != nil {
			return attendance.Attachment{}, failed
		}
		return att, err
	}
}

func (s *Server) storeUpload(ctx context.Context, body io.Reader, fileName, convID string, p attendance.Principal) (attendance.Attachment, error) {
	limit := s.cfg.MaxAttachmentBytes
	head := make([]byte, 512)
	n, err := io.ReadFull(body, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return attendance.Attachment{}, uploadErr(err, limit)
	}
	head = head[:n]
	if n == 0 {
		return attendance.Attachment{}, fmt.Errorf("%w: empty file", ErrBadRequest)
	}
	ctype, err := s.sniff(head)
	if err != nil {
		return attendance.Attachment{}, err
	}
	id, err := newBlobID()
	if err != nil {
		return attendance.Attachment{}, err
	}
	hr := &hashingReader{r: io.MultiReader(bytes.NewReader(head), body), h: sha256.New(), limit: limit}
	var info BlobInfo
	err = s.cfg.Blobs.Put(ctx, id, hr, func() (BlobInfo, error) {
		info = BlobInfo{
			ID:             id,
			ConversationID: convID,
			Uploader:       p,
			Name:           SafeFileName(fileName, ctype),
			ContentType:    ctype,
			Size:           hr.n,
			SHA256:         hex.EncodeToString(hr.h.Sum(nil)),
			CreatedAt:      s.cfg.Now().UTC(),
		}
		return info, nil
	})
	if err != nil {
		return attendance.Attachment{}, uploadErr(err, limit)
	}
	return info.Attachment(), nil
}

func uploadErr(err error, limit int64) error {
	if errors.Is(err, ErrTooLarge) {
		return fmt.Errorf("%w: limit %d bytes", ErrTooLarge, limit)
	}
	return err
}

// executableMagic are the starts of executables and scripts, refused even
// before the allowlist so the error says what was found.
var executableMagic = [][]byte{
	[]byte("MZ"),             // Windows PE
	[]byte("\x7fELF"),        // ELF
	[]byte("#!"),             // scripts
	{0xfe, 0xed, 0xfa, 0xce}, // Mach-O
	{0xfe, 0xed, 0xfa, 0xcf}, // Mach-O 64
	{0xcf, 0xfa, 0xed, 0xfe}, // Mach-O 64, little endian
	{0xce, 0xfa, 0xed, 0xfe}, // Mach-O, little endian
	{0xca, 0xfe, 0xba, 0xbe}, // Mach-O universal, Java class
	[]byte("PK\x03\x04"),     // zip, jar, apk, office documents
	{0x00, 0x61, 0x73, 0x6d}, // WebAssembly
}

// sniff decides the content type from the first bytes, never from the name
// or the client's headers, and checks it against the allowlist.
func (s *Server) sniff(head []byte) (string, error) {
	for _, m := range executableMagic {
		if bytes.HasPrefix(head, m) {
			return "", fmt.Errorf("%w: the content is an executable or an archive", ErrUnsupportedType)
		}
	}
	ctype := http.DetectContentType(head)
	if slices.Contains(s.cfg.AllowedTypes, ctype) {
		return ctype, nil
	}
	return "", fmt.Errorf("%w: content sniffed as %s", ErrUnsupportedType, ctype)
}

func newBlobID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("transport: blob ID: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// hashingReader counts and hashes what passes and fails past limit.
type hashingReader struct {
	r     io.Reader
	h     hash.Hash
	n     int64
	limit int64
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.n += int64(n)
	if h.n > h.limit {
		return 0, ErrTooLarge
	}
	h.h.Write(p[:n])
	return n, err
}

// extensions maps allowed content types to the extensions a file of that
// type may keep; the first is added when the name has none of them.
var extensions = map[string][]string{
	"application/pdf":           {".pdf"},
	"image/png":                 {".png"},
	"image/jpeg":                {".jpg", ".jpeg"},
	"image/gif":                 {".gif"},
	"image/webp":                {".webp"},
	"text/plain; charset=utf-8": {".txt", ".csv", ".log"},
}

// SafeFileName turns a client's file name into one safe to show and to put
// in a Content-Disposition header: only the last path element is kept
// (both / and \ separate), and only its first 1 KiB is looked at, control
// and reserved characters are dropped, leading dots and spaces are trimmed,
// the length is capped at 100 bytes, and the extension is made to match
// contentType (a PDF named "x.exe" becomes "x.pdf"). An empty result
// becomes "file" plus the extension.
func SafeFileName(name, contentType string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	if len(name) > maxRawFileName {
		// Cut before the work below, which copies the name rune by rune;
		// a cut rune is dropped there as invalid.
		name = name[:maxRawFileName]
	}
	var b strings.Builder
	for _, r := range name {
		if r == utf8.RuneError || unicode.IsControl(r) || strings.ContainsRune(`<>:"/\|?*;%`, r) || !unicode.IsPrint(r) {
			continue
		}
		b.WriteRune(r)
	}
	name = strings.Trim(b.String(), ". ")
	exts := extensions[contentType]
	ext := strings.ToLower(path.Ext(name))
	base := strings.TrimSuffix(name, path.Ext(name))
	if len(exts) > 0 && !slices.Contains(exts, ext) {
		ext = exts[0]
	} else if len(exts) == 0 {
		ext = ""
	}
	base = strings.Trim(base, ". ")
	if base == "" {
		base = "file"
	}
	if up := strings.ToUpper(base); slices.Contains([]string{"CON", "PRN", "AUX", "NUL", "COM1", "LPT1"}, up) {
		base = "_" + base
	}
	for len(base)+len(ext) > 100 {
		_, size := utf8.DecodeLastRuneInString(base)
		base = base[:len(base)-size]
	}
	return base + ext
}

func (s *Server) download(w http.ResponseWriter, r *http.Request, p attendance.Principal) {
	ctx := r.Context()
	id := path.Base(r.URL.Path)
	info, err := s.cfg.Blobs.Stat(ctx, id)
	if err != nil {
		writeHTTPError(w, err)
		return
	}
	if _, err := s.eng.AuthorizeView(ctx, p, info.ConversationID); err != nil {
		writeHTTPError(w, err)
		return
	}
	rc, info, err := s.cfg.Blobs.Open(ctx, id)
	if err != nil {
		writeHTTPError(w, err)
		return
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Type", info.ContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("Cache-Control", "private, no-store")
	h.Set("ETag", `"`+info.SHA256+`"`)
	// RFC 3230 and 5843: the base64 of the digest's bytes (the ETag and
	// the JSON keep the hex form).
	if sum, err := hex.DecodeString(info.SHA256); err == nil && len(sum) == sha256.Size {
		h.Set("Digest", "sha-256="+base64.StdEncoding.EncodeToString(sum))
	}
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": info.Name}))
	if h.Get("Content-Disposition") == "" {
		h.Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(info.Name))
	}
	http.ServeContent(w, r, "", info.CreatedAt, rc)
}

// attachmentFor builds the attachment of a send command from the blob
// store, never from the client: the blob must have been uploaded by p to
// that conversation. With a BlobSweeper, an upload older than half of
// UnsentBlobTTL that no message references is refused (not_found): the
// sweep, which takes those older than the TTL, then never meets a send.
func (s *Server) attachmentFor(ctx context.Context, p attendance.Principal, convID, blobID string) (attendance.Attachment, error) {
	if s.cfg.Blobs == nil {
		return attendance.Attachment{}, fmt.Errorf("%w: attachments are not enabled", attendance.ErrInvalidArgument)
	}
	info, err := s.cfg.Blobs.Stat(ctx, blobID)
	if err != nil {
		return attendance.Attachment{}, err
	}
	if info.ConversationID != convID || info.Uploader != p {
		return attendance.Attachment{}, fmt.Errorf("%w: blob %s was not uploaded by %s to conversation %s", attendance.ErrForbidden, blobID, p.ID, convID)
	}
	if sw, ok := s.cfg.Blobs.(BlobSweeper); ok && s.cfg.UnsentBlobTTL > 0 && s.cfg.Now().Sub(info.CreatedAt) > s.cfg.UnsentBlobTTL/2 {
		sent, err := sw.Sent(ctx, blobID)
		if err != nil {
			return attendance.Attachment{}, err
		}
		if !sent {
			return attendance.Attachment{}, fmt.Errorf("%w: upload %s is older than %s and was never sent; upload the file again", ErrBlobNotFound, blobID, s.cfg.UnsentBlobTTL/2)
		}
	}
	return info.Attachment(), nil
}

// markSent tells a BlobSweeper that a message may reference blob id: the
// send's outcome was success, or a failure that does not say the message
// was not stored (a timeout, an unavailable store). A definite refusal
// leaves the upload to the sweep.
func (s *Server) markSent(ctx context.Context, id string, sendErr error) {
	sw, ok := s.cfg.Blobs.(BlobSweeper)
	if !ok {
		return
	}
	for _, refused := range []error{attendance.ErrForbidden, attendance.ErrInvalidTransition, attendance.ErrNotFound,
		attendance.ErrInvalidArgument, attendance.ErrEmptyMessage, attendance.ErrMessageTooLarge, attendance.ErrClosed} {
		if errors.Is(sendErr, refused) {
			return
		}
	}
	if err := sw.MarkSent(context.WithoutCancel(ctx), id); err != nil {
		s.log.Error("transport: an attachment that may be sent could not be marked; the sweep may remove it", "blob", id, "err", err)
	}
}

// uploadBody is an upload's request body as the handler reads it. Before
// each read it moves the connection's read deadline to now + idle (never
// past the http.Server's ReadTimeout, counted from the handler's start), so
// a client that stops sending fails the upload with errUploadStalled rather
// than holding it; and it fails with its over error once more than left
// bytes are read: first the envelope's budget, then, from raise, the file's.
// Both failures are sticky, as is the body's end. It is read by one
// goroutine at a time.
type uploadBody struct {
	body io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
	// hard is when the host's ReadTimeout ends; zero if it has none.
	hard time.Time
	// deadline: a read deadline is set and finish must clear it.
	deadline bool
	left     int64
	over     error
	// err answers every read once set: io.EOF, or why reading failed.
	err error
}

func newUploadBody(w http.ResponseWriter, r *http.Request, idle time.Duration, start time.Time) *uploadBody {
	b := &uploadBody{
		body: r.Body,
		rc:   http.NewResponseController(w),
		idle: idle,
		left: envelopeBytes,
		over: fmt.Errorf("%w: more than %d bytes of form before the file's content", ErrTooLarge, envelopeBytes),
	}
	if hs, ok := r.Context().Value(http.ServerContextKey).(*http.Server); ok && hs.ReadTimeout > 0 {
		b.hard = start.Add(hs.ReadTimeout)
	}
	return b
}

// extend moves the read deadline to now + idle, if the connection takes
// one. The deadline is the network's, so it is taken from time.Now, not
// from Config.Now.
func (b *uploadBody) extend() error {
	d := time.Now().Add(b.idle)
	if !b.hard.IsZero() && b.hard.Before(d) {
		d = b.hard
	}
	switch err := b.rc.SetReadDeadline(d); {
	case err == nil:
		b.deadline = true
	case !errors.Is(err, http.ErrNotSupported):
		return fmt.Errorf("transport: upload read deadline: %w", err)
	}
	return nil
}

// clear removes the read deadline set by extend.
func (b *uploadBody) clear() {
	if b.deadline {
		b.deadline = false
		_ = b.rc.SetReadDeadline(time.Time{})
	}
}

// Read implements io.Reader.
func (b *uploadBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.err = b.extend(); b.err != nil {
		return 0, b.err
	}
	if int64(len(p)) > b.left {
		// At the end of the budget, one byte tells the end of the body
		// from more of it.
		p = p[:max(b.left, 1)]
	}
	n, err := b.body.Read(p)
	if int64(n) > b.left {
		b.err = b.over
		return 0, b.err
	}
	b.left -= int64(n)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		why := fmt.Sprintf("nothing received for %s", b.idle)
		if !b.hard.IsZero() && !time.Now().Before(b.hard) {
			why = "the server's read timeout passed"
		}
		b.err = fmt.Errorf("%w: %s", errUploadStalled, why)
		return n, b.err
	case err == io.EOF:
		// Nothing more to wait for. net/http starts its own read of the
		// connection now (and clears the deadline too): no read may set
		// one again.
		b.err = io.EOF
		b.clear()
	}
	return n, err
}

// raise gives the body a new budget of n more bytes, failing with over
// beyond it.
func (b *uploadBody) raise(n int64, over error) {
	b.left, b.over = n, over
}

// failure returns why reading failed, if the body made it fail (a stall, a
// budget spent, a deadline it could not set), or nil.
func (b *uploadBody) failure() error {
	if b.err == io.EOF {
		return nil
	}
	return b.err
}

// finish ends the upload's use of the connection's read deadline, if it
// set one and the body did not end: the body is closed while the deadline
// still holds (net/http reads up to 256 KiB of what remains, to reuse the
// connection), then the deadline is cleared. An upload refused before its
// body was read leaves the deadline and the body to net/http.
func (b *uploadBody) finish() {
	if b.deadline {
		_ = b.body.Close()
		b.clear()
	}
}

// uploadGate counts the uploads in progress by principal (Server.uploads).
type uploadGate struct {
	mu       sync.Mutex
	inFlight map[attendance.Principal]int
}

// acquire takes one of p's limit slots, or reports false when all are taken.
func (g *uploadGate) acquire(p attendance.Principal, limit int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.inFlight[p] >= limit {
		return false
	}
	if g.inFlight == nil {
		g.inFlight = make(map[attendance.Principal]int)
	}
	g.inFlight[p]++
	return true
}

// release gives back a slot taken by acquire.
func (g *uploadGate) release(p attendance.Principal) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inFlight[p]--
	if g.inFlight[p] <= 0 {
		delete(g.inFlight, p)
	}
}
