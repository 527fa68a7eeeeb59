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
// Config.Blobs implements it (FSBlobStore does), the Server marks each
// blob a send command uses, before the message is stored, and sweeps every
// so often (see Config.UnsentBlobTTL).
type BlobSweeper interface {
	// MarkSent records that a message references blob id, so that Sweep
	// keeps it for good. It returns an error matching ErrBlobNotFound when
	// the blob is gone (swept).
	MarkSent(ctx context.Context, id string) error
	// Sweep removes the blobs created before cutoff that were never marked
	// sent, and the leftovers of uploads that never finished, and returns
	// how many blobs it removed.
	Sweep(ctx context.Context, cutoff time.Time) (int, error)
}

// FSBlobStore is a BlobStore in a directory of the local file system: each
// blob is <id>.blob with its metadata in <id>.json, and <id>.sent once a
// message references it. Bytes are streamed to a temporary file and
// renamed into place only when complete.
//
// Its MarkSent and Sweep exclude each other within a process; processes
// sharing one directory could race on one blob only when a send uses an
// upload exactly as old as the sweep's cutoff.
type FSBlobStore struct {
	dir string
	mu  sync.Mutex // MarkSent against Sweep's check and delete
}

var (
	_ BlobStore   = (*FSBlobStore)(nil)
	_ BlobSweeper = (*FSBlobStore)(nil)
)

// NewFSBlobStore returns a store in dir, creating it (mode 0700) if needed.
func NewFSBlobStore(dir string) (*FSBlobStore, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w: empty blob directory", attendance.ErrInvalidArgument)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("transport: create blob directory: %w", err)
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

// Sweep implements BlobSweeper: it removes the blobs whose metadata was
// written before cutoff and that have no .sent mark, and the temporary
// files of uploads last written before cutoff.
func (s *FSBlobStore) Sweep(ctx context.Context, cutoff time.Time) (int, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, fmt.Errorf("transport: sweep blobs: %w", err)
	}
	removed := 0
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		name := e.Name()
		if strings.HasPrefix(name, uploadPrefix) {
			// An upload's temporary file outlives it only if the process
			// died during the upload.
			if fi, err := e.Info(); err == nil && fi.ModTime().Before(cutoff) {
				os.Remove(filepath.Join(s.dir, name))
			}
			continue
		}
		id, ok := strings.CutSuffix(name, ".json")
		if !ok || !blobIDPattern.MatchString(id) {
			continue
		}
		gone, err := s.sweepOne(ctx, id, cutoff)
		if err != nil {
			return removed, err
		}
		if gone {
			removed++
		}
	}
	return removed, nil
}

// sweepOne removes blob id if it is older than cutoff and not marked sent.
func (s *FSBlobStore) sweepOne(ctx context.Context, id string, cutoff time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := os.Stat(s.sentPath(id)); err == nil {
		return false, nil
	}
	_, metaPath, _ := s.paths(id)
	fi, err := os.Stat(metaPath)
	if err != nil || !fi.ModTime().Before(cutoff) {
		return false, nil // gone meanwhile, or young
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
