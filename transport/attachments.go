package transport

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mosiachat/mosiachat/attendance"
)

// AttachmentHandler returns the HTTP handler for attachments, to be mounted
// under a prefix with http.StripPrefix (see docs/protocol.md):
//
//   - POST /?conversation_id=ID with a multipart/form-data body whose part
//     "file" holds the file: the file is streamed to Config.Blobs, checked
//     (size, type sniffed from the content, name) and answered with 201 and
//     the attendance.Attachment as JSON. Send it with a send command whose
//     attachment names its blob_id.
//   - GET /{blob_id}: the file, for the participants of its conversation
//     (attendance.Engine.AuthorizeView decides).
//
// Errors are JSON {"code","message"} with the status of CodeOf.
func (s *Server) AttachmentHandler() http.Handler {
	return http.HandlerFunc(s.serveAttachment)
}

func (s *Server) serveAttachment(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.running(); !ok {
		writeHTTPError(w, ErrServerClosed)
		return
	}
	if s.cfg.Blobs == nil {
		http.NotFound(w, r)
		return
	}
	p, err := s.authenticate(r)
	if err != nil {
		writeHTTPError(w, err)
		return
	}
	switch r.Method {
	case http.MethodPost:
		att, err := s.upload(r.Context(), w, r, p)
		if err != nil {
			s.log.Info("transport: upload refused", "principal", p.ID, "err", err)
			writeHTTPError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(att)
	case http.MethodGet, http.MethodHead:
		s.download(w, r, p)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		writeHTTPError(w, fmt.Errorf("%w: method %s not allowed", ErrBadRequest, r.Method))
	}
}

func (s *Server) upload(ctx context.Context, w http.ResponseWriter, r *http.Request, p attendance.Principal) (attendance.Attachment, error) {
	convID := r.URL.Query().Get("conversation_id")
	c, err := s.eng.AuthorizeView(ctx, p, convID)
	if err != nil {
		return attendance.Attachment{}, err
	}
	if c.State.Terminal() {
		return attendance.Attachment{}, &attendance.TransitionError{From: c.State, To: c.State}
	}
	limit := s.cfg.MaxAttachmentBytes
	if r.ContentLength > limit+64<<10 {
		return attendance.Attachment{}, fmt.Errorf("%w: body of %d bytes, limit %d", ErrTooLarge, r.ContentLength, limit)
	}
	// The multipart envelope adds a little; the file itself is counted exactly below.
	r.Body = http.MaxBytesReader(w, r.Body, limit+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		return attendance.Attachment{}, fmt.Errorf("%w: expected a multipart/form-data body", ErrBadRequest)
	}
	for {
		part, err := mr.NextPart()
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return attendance.Attachment{}, fmt.Errorf("%w: limit %d bytes", ErrTooLarge, limit)
			}
			return attendance.Attachment{}, fmt.Errorf("%w: no part named \"file\" in the form", ErrBadRequest)
		}
		if part.FormName() != "file" {
			part.Close()
			continue
		}
		defer part.Close()
		return s.storeUpload(ctx, part, part.FileName(), c.ID, p)
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
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || errors.Is(err, ErrTooLarge) {
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
// (both / and \ separate), control and reserved characters are dropped,
// leading dots and spaces are trimmed, the length is capped at 100 bytes,
// and the extension is made to match contentType (a PDF named "x.exe"
// becomes "x.pdf"). An empty result becomes "file" plus the extension.
func SafeFileName(name, contentType string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
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
	h.Set("Digest", "sha-256="+info.SHA256)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": info.Name}))
	if h.Get("Content-Disposition") == "" {
		h.Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(info.Name))
	}
	http.ServeContent(w, r, "", info.CreatedAt, rc)
}

// attachmentFor builds the attachment of a send command from the blob
// store, never from the client: the blob must have been uploaded by p to
// that conversation.
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
	return info.Attachment(), nil
}
