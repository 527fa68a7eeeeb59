package transport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/mosiachat/mosiachat/attendance"
)

// BlobInfo is what a blob store keeps beside an attachment's bytes.
type BlobInfo struct {
	ID             string               `json:"id"`
	ConversationID string               `json:"conversation_id"`
	Uploader       attendance.Principal `json:"uploader"`
	Name           string               `json:"name"`
	ContentType    string               `json:"content_type"`
	Size           int64                `json:"size"`
	SHA256         string               `json:"sha256"`
	CreatedAt      time.Time            `json:"created_at"`
}

// Attachment returns the engine's description of the blob.
func (b BlobInfo) Attachment() attendance.Attachment {
	return attendance.Attachment{BlobID: b.ID, Name: b.Name, ContentType: b.ContentType, Size: b.Size, SHA256: b.SHA256}
}

// BlobStore keeps attachment bytes and their metadata. The Server does the
// checking (size, type, name, checksum, who may read); a store only keeps
// what it is given. IDs are made by the Server: 32 lowercase hex digits.
//
// Every method is safe for concurrent use and honours ctx.
type BlobStore interface {
	// Put reads r to its end and stores the bytes under id. Once r is
	// exhausted it calls info for the metadata to keep; if reading r or
	// info fails, Put returns that error and keeps nothing. A blob is
	// visible to Open and Stat only after Put returned nil.
	Put(ctx context.Context, id string, r io.Reader, info func() (BlobInfo, error)) error
	// Stat returns a blob's metadata, or an error matching ErrBlobNotFound.
	Stat(ctx context.Context, id string) (BlobInfo, error)
	// Open returns a blob's content and metadata, or an error matching
	// ErrBlobNotFound. The caller closes the content.
	Open(ctx context.Context, id string) (io.ReadSeekCloser, BlobInfo, error)
	// Delete removes a blob; deleting a missing blob is not an error.
	Delete(ctx context.Context, id string) error
}

// BlobSweeper is a BlobStore that can remove the uploads no message came
// to reference, so that files uploaded and never sent do not pile up. When
// Config.Blobs implements it (FSBlobStore does), the Server refuses to
// send an unmarked upload older than half of Config.UnsentBlobTTL, marks
// each blob once a send of it may have stored its message, and sweeps
// every so often. A host that stores messages with attachments itself,
// not through a send command, calls MarkSent for their blobs.
type BlobSweeper interface {
	// MarkSent records that a message references blob id, so that Sweep
	// keeps it for good. It returns an error matching ErrBlobNotFound when
	// the blob is gone.
	MarkSent(ctx context.Context, id string) error
	// Sent reports whether MarkSent was called for blob id.
	Sent(ctx context.Context, id string) (bool, error)
	// Sweep removes the blobs created before cutoff that were never marked
	// sent, and returns how many it removed. It keeps the blobs a store
	// held before it could sweep (they may be referenced by messages that
	// were never marked), and may remove other leftovers (of uploads or
	// deletions that a crash interrupted).
	Sweep(ctx context.Context, cutoff time.Time) (int, error)
}

// FSBlobStore is a BlobStore in a directory of the local file system: each
// blob is <id>.blob with its metadata in <id>.json, and <id>.sent once a
// message references it. Bytes are streamed to a temporary file and
// renamed into place only when complete. The file .sweep-epoch, written
// the first time the directory is opened by a version that sweeps, keeps
// Sweep off the blobs that were there before.
//
// Its MarkSent and Sweep exclude each other within a process. Processes
// sharing one directory rely on the Server's rule that an upload older
// than half of the TTL is never sent, so the sweep (which takes only those
// older than the TTL) cannot meet a send.
type FSBlobStore struct {
	dir string
	mu  sync.Mutex // MarkSent against Sweep's check and delete
}

var (
	_ BlobStore   = (*FSBlobStore)(nil)
	_ BlobSweeper = (*FSBlobStore)(nil)
)

// epochFile marks when the directory came under sweeping.
const epochFile = ".sweep-epoch"

// leftoverAge is how old a leftover (a temporary file, an orphan part of a
// blob) must be before Sweep removes it: far older than any upload in
// progress can be.
const leftoverAge = 24 * time.Hour

// NewFSBlobStore returns a store in dir, creating it (mode 0700) if needed.
func NewFSBlobStore(dir string) (*FSBlobStore, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w: empty blob directory", attendance.ErrInvalidArgument)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("transport: create blob directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, epochFile), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	switch {
	case err == nil:
		f.Close()
	case !errors.Is(err, os.ErrExist):
		return nil, fmt.Errorf("transport: blob directory: %w", err)
	}
	return &FSBlobStore{dir: dir}, nil
}

var blobIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

func (s *FSBlobStore) paths(id string) (blob, meta string, err error) {
	if !blobIDPattern.MatchString(id) {
		return "", "", fmt.Errorf("%w: malformed blob ID", ErrBlobNotFound)
	}
	return filepath.Join(s.dir, id+".blob"), filepath.Join(s.dir, id+".json"), nil
}

// uploadPrefix starts the names of the temporary files of uploads in
// progress.
const uploadPrefix = ".upload-"

// Put implements BlobStore.
func (s *FSBlobStore) Put(ctx context.Context, id string, r io.Reader, info func() (BlobInfo, error)) (err error) {
	blobPath, metaPath, err := s.paths(id)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.dir, uploadPrefix+"*")
	if err != nil {
		return fmt.Errorf("transport: create blob: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = io.Copy(tmp, ctxReader{ctx, r}); err != nil {
		return err
	}
	meta, err := info()
	if err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("transport: sync blob: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("transport: close blob: %w", err)
	}
	mb, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("transport: encode blob metadata: %w", err)
	}
	if err = os.Rename(tmp.Name(), blobPath); err != nil {
		return fmt.Errorf("transport: store blob: %w", err)
	}
	mtmp := metaPath + ".tmp"
	if err = os.WriteFile(mtmp, mb, 0o600); err == nil {
		err = os.Rename(mtmp, metaPath)
	}
	if err != nil {
		os.Remove(blobPath)
		os.Remove(mtmp)
		return fmt.Errorf("transport: store blob metadata: %w", err)
	}
	return nil
}

// Stat implements BlobStore.
func (s *FSBlobStore) Stat(ctx context.Context, id string) (BlobInfo, error) {
	if err := ctx.Err(); err != nil {
		return BlobInfo{}, err
	}
	_, metaPath, err := s.paths(id)
	if err != nil {
		return BlobInfo{}, err
	}
	b, err := os.ReadFile(metaPath)
	if errors.Is(err, os.ErrNotExist) {
		return BlobInfo{}, fmt.Errorf("%w: %s", ErrBlobNotFound, id)
	}
	if err != nil {
		return BlobInfo{}, fmt.Errorf("transport: read blob metadata: %w", err)
	}
	var info BlobInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return BlobInfo{}, fmt.Errorf("transport: decode blob metadata: %w", err)
	}
	return info, nil
}

// Open implements BlobStore.
func (s *FSBlobStore) Open(ctx context.Context, id string) (io.ReadSeekCloser, BlobInfo, error) {
	info, err := s.Stat(ctx, id)
	if err != nil {
		return nil, BlobInfo{}, err
	}
	blobPath, _, _ := s.paths(id)
	f, err := os.Open(blobPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, BlobInfo{}, fmt.Errorf("%w: %s", ErrBlobNotFound, id)
	}
	if err != nil {
		return nil, BlobInfo{}, fmt.Errorf("transport: open blob: %w", err)
	}
	return f, info, nil
}

// Delete implements BlobStore.
func (s *FSBlobStore) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	blobPath, metaPath, err := s.paths(id)
	if err != nil {
		return nil
	}
	for _, path := range []string{metaPath, blobPath, s.sentPath(id)} {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("transport: delete blob: %w", err)
		}
	}
	return nil
}

func (s *FSBlobStore) sentPath(id string) string { return filepath.Join(s.dir, id+".sent") }

// MarkSent implements BlobSweeper.
func (s *FSBlobStore) MarkSent(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, metaPath, err := s.paths(id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := os.Stat(metaPath); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrBlobNotFound, id)
	}
	f, err := os.OpenFile(s.sentPath(id), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("transport: mark blob sent: %w", err)
	}
	return f.Close()
}

// Sent implements BlobSweeper.
func (s *FSBlobStore) Sent(ctx context.Context, id string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if _, _, err := s.paths(id); err != nil {
		return false, err
	}
	_, err := os.Stat(s.sentPath(id))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("transport: blob sent mark: %w", err)
}

// Sweep implements BlobSweeper: it removes the blobs whose metadata was
// written before cutoff (and after .sweep-epoch) that have no .sent mark,
// and leftovers older than a day: temporary files of uploads and of
// metadata, and the parts of blobs (bytes, mark) whose metadata is gone.
func (s *FSBlobStore) Sweep(ctx context.Context, cutoff time.Time) (int, error) {
	epoch, err := os.Stat(filepath.Join(s.dir, epochFile))
	if err != nil {
		return 0, fmt.Errorf("transport: sweep blobs: %w", err)
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, fmt.Errorf("transport: sweep blobs: %w", err)
	}
	old := time.Now().Add(-leftoverAge)
	removed := 0
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		name := e.Name()
		if id, ok := strings.CutSuffix(name, ".json"); ok && blobIDPattern.MatchString(id) {
			gone, err := s.sweepOne(ctx, id, cutoff, epoch.ModTime())
			if err != nil {
				return removed, err
			}
			if gone {
				removed++
			}
			continue
		}
		if s.leftover(name) {
			if fi, err := e.Info(); err == nil && fi.ModTime().Before(old) {
				os.Remove(filepath.Join(s.dir, name))
			}
		}
	}
	return removed, nil
}

// leftover reports whether name is a temporary file, or a blob's bytes or
// sent mark without its metadata (what a crash or a deletion racing a mark
// leaves).
func (s *FSBlobStore) leftover(name string) bool {
	if strings.HasPrefix(name, uploadPrefix) || strings.HasSuffix(name, ".json.tmp") {
		return true
	}
	id, ok := strings.CutSuffix(name, ".blob")
	if !ok {
		id, ok = strings.CutSuffix(name, ".sent")
	}
	if !ok || !blobIDPattern.MatchString(id) {
		return false
	}
	_, err := os.Stat(filepath.Join(s.dir, id+".json"))
	return errors.Is(err, os.ErrNotExist)
}

// sweepOne removes blob id if its metadata was written before cutoff and
// not before epoch, and it is not marked sent.
func (s *FSBlobStore) sweepOne(ctx context.Context, id string, cutoff, epoch time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := os.Stat(s.sentPath(id)); err == nil {
		return false, nil
	}
	_, metaPath, _ := s.paths(id)
	fi, err := os.Stat(metaPath)
	if err != nil || !fi.ModTime().Before(cutoff) || fi.ModTime().Before(epoch) {
		return false, nil // gone meanwhile, young, or older than sweeping
	}
	return true, s.Delete(ctx, id)
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
