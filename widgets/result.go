package widgets

import (
	"fmt"
	"mime"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// Limits on a Result. A result beyond any of them is malformed: the panel
// shows that widget's box as an error rather than a truncated view.
const (
	// MaxLabelBytes bounds titles, labels and column headers.
	MaxLabelBytes = 200
	// MaxTextBytes bounds a text value, the Note and a URL.
	MaxTextBytes = 4096
	// MaxFields bounds the key-value pairs of a result.
	MaxFields = 100
	// MaxTables bounds the tables of a result.
	MaxTables = 10
	// MaxColumns bounds the columns of a table.
	MaxColumns = 20
	// MaxRows bounds the rows of one table.
	MaxRows = 1000
	// MaxDocuments bounds the documents of a result.
	MaxDocuments = 50
	// MaxLinks bounds the links of a result.
	MaxLinks = 50
	// MaxResultBytes bounds a whole result's approximate size in memory:
	// the bytes of all its text (titles, labels, values, URLs, content
	// types) plus the fixed size of each value, row, field, column,
	// document and link, empty ones included. The limits above alone would
	// let one result reach hundreds of megabytes (10 tables of 1,000 rows
	// of 20 texts of 4,096 bytes), which the cache would keep and the panel
	// would have to show. One full table (1,000 rows of 20 short texts)
	// fits.
	MaxResultBytes = 2 << 20
)

// Result is what a provider returns: structured content that the panel
// renders for any provider without provider-specific front-end code. Every
// part is optional; an empty Result is a box that says nothing to show.
//
// A Result handed to the registry is copied; the copy the registry returns
// may be shared with other callers through the cache and must be treated as
// read-only.
type Result struct {
	// Title overrides the widget's title for this result (e.g. "Boletos —
	// 3 em aberto"). Empty means the Widget's Title.
	Title string `json:"title"`
	// Note is a line of text under the title ("Nenhum boleto em aberto").
	Note string `json:"note,omitempty"`
	// Fields are key-value pairs, shown in order.
	Fields []Field `json:"fields,omitempty"`
	// Tables are shown in order, each with typed columns.
	Tables []Table `json:"tables,omitempty"`
	// Documents the agent may download or send to the beneficiary.
	Documents []Document `json:"documents,omitempty"`
	// Links open elsewhere (the host's portal, a detailed report).
	Links []Link `json:"links,omitempty"`
}

// Field is one key-value pair ("Plano: Essencial Enfermaria").
type Field struct {
	Label string `json:"label"`
	Value Value  `json:"value"`
}

// Column is a table column: a header and the kind of every value in it.
type Column struct {
	Label string `json:"label"`
	Kind  Kind   `json:"kind"`
}

// Table is a titled grid of typed values. Every row has exactly one value
// per column, of the column's kind or the empty Value.
type Table struct {
	// Title is optional.
	Title   string    `json:"title,omitempty"`
	Columns []Column  `json:"columns"`
	Rows    [][]Value `json:"rows"`
}

// Document is a file to download: a statement, a bank slip in PDF.
type Document struct {
	// Title is shown to the agent ("Boleto 03/2026").
	Title string `json:"title"`
	// URL is an absolute http(s) URL or an absolute path on the host
	// ("/files/123"). Other schemes (javascript:, data:) are malformed.
	URL string `json:"url"`
	// ContentType is the media type, e.g. "application/pdf"; optional.
	ContentType string `json:"content_type,omitempty"`
	// Size in bytes; 0 means unknown.
	Size int64 `json:"size,omitempty"`
}

// Link is a labelled URL, with the same URL rules as Document.
type Link struct {
	Label string `json:"label"`
	URL   string `json:"url"`
}

// Validate reports whether r is well formed and within the limits above. The
// error matches [ErrMalformedResult] and is a *[ResultError] naming the
// offending part, e.g. "tables[0].rows[3][2]".
func (r Result) Validate() error {
	if path, reason := r.check(); reason != "" {
		return &ResultError{Path: path, Reason: reason}
	}
	return nil
}

// check returns the path and reason of the first problem, or "" if none.
func (r Result) check() (string, string) {
	if reason := checkText(r.Title, MaxLabelBytes, false); reason != "" {
		return "title", reason
	}
	if reason := checkText(r.Note, MaxTextBytes, true); reason != "" {
		return "note", reason
	}
	if len(r.Fields) > MaxFields {
		return "fields", fmt.Sprintf("%d fields, at most %d", len(r.Fields), MaxFields)
	}
	for i, f := range r.Fields {
		if reason := checkLabel(f.Label); reason != "" {
			return fmt.Sprintf("fields[%d].label", i), reason
		}
		if reason := f.Value.validate(""); reason != "" {
			return fmt.Sprintf("fields[%d].value", i), reason
		}
	}
	if len(r.Tables) > MaxTables {
		return "tables", fmt.Sprintf("%d tables, at most %d", len(r.Tables), MaxTables)
	}
	for i, t := range r.Tables {
		if path, reason := t.check(); reason != "" {
			return fmt.Sprintf("tables[%d]%s", i, path), reason
		}
	}
	if len(r.Documents) > MaxDocuments {
		return "documents", fmt.Sprintf("%d documents, at most %d", len(r.Documents), MaxDocuments)
	}
	for i, d := range r.Documents {
		if reason := checkLabel(d.Title); reason != "" {
			return fmt.Sprintf("documents[%d].title", i), reason
		}
		if reason := checkURL(d.URL); reason != "" {
			return fmt.Sprintf("documents[%d].url", i), reason
		}
		if d.ContentType != "" {
			if _, _, err := mime.ParseMediaType(d.ContentType); err != nil {
				return fmt.Sprintf("documents[%d].content_type", i), "not a media type"
			}
		}
		if d.Size < 0 {
			return fmt.Sprintf("documents[%d].size", i), "negative size"
		}
	}
	if len(r.Links) > MaxLinks {
		return "links", fmt.Sprintf("%d links, at most %d", len(r.Links), MaxLinks)
	}
	for i, l := range r.Links {
		if reason := checkLabel(l.Label); reason != "" {
			return fmt.Sprintf("links[%d].label", i), reason
		}
		if reason := checkURL(l.URL); reason != "" {
			return fmt.Sprintf("links[%d].url", i), reason
		}
	}
	if n := r.size(); n > MaxResultBytes {
		return "result", fmt.Sprintf("%d bytes of content, at most %d", n, MaxResultBytes)
	}
	return "", ""
}

// Fixed sizes that Result.size counts besides the text.
var (
	valueSize    = int(unsafe.Sizeof(Value{}))
	rowSize      = int(unsafe.Sizeof([]Value(nil)))
	fieldSize    = int(unsafe.Sizeof(Field{}))
	columnSize   = int(unsafe.Sizeof(Column{}))
	tableSize    = int(unsafe.Sizeof(Table{}))
	documentSize = int(unsafe.Sizeof(Document{}))
	linkSize     = int(unsafe.Sizeof(Link{}))
)

// size is what MaxResultBytes bounds: r's approximate size in memory, its
// text plus the fixed size of each of its parts.
func (r Result) size() int {
	n := int(unsafe.Sizeof(r)) + len(r.Title) + len(r.Note)
	for _, f := range r.Fields {
		n += fieldSize + len(f.Label) + len(f.Value.Text)
	}
	for _, t := range r.Tables {
		n += tableSize + len(t.Title)
		for _, c := range t.Columns {
			n += columnSize + len(c.Label)
		}
		for _, row := range t.Rows {
			n += rowSize + len(row)*valueSize
			for _, v := range row {
				n += len(v.Text)
			}
		}
	}
	for _, d := range r.Documents {
		n += documentSize + len(d.Title) + len(d.URL) + len(d.ContentType)
	}
	for _, l := range r.Links {
		n += linkSize + len(l.Label) + len(l.URL)
	}
	return n
}

func (t Table) check() (string, string) {
	if reason := checkText(t.Title, MaxLabelBytes, false); reason != "" {
		return ".title", reason
	}
	if len(t.Columns) == 0 {
		return ".columns", "a table needs at least one column"
	}
	if len(t.Columns) > MaxColumns {
		return ".columns", fmt.Sprintf("%d columns, at most %d", len(t.Columns), MaxColumns)
	}
	for j, c := range t.Columns {
		if reason := checkLabel(c.Label); reason != "" {
			return fmt.Sprintf(".columns[%d].label", j), reason
		}
		if !c.Kind.Valid() {
			return fmt.Sprintf(".columns[%d].kind", j), fmt.Sprintf("unknown column kind %q", c.Kind)
		}
	}
	if len(t.Rows) > MaxRows {
		return ".rows", fmt.Sprintf("%d rows, at most %d", len(t.Rows), MaxRows)
	}
	for i, row := range t.Rows {
		if len(row) != len(t.Columns) {
			return fmt.Sprintf(".rows[%d]", i), fmt.Sprintf("%d values for %d columns", len(row), len(t.Columns))
		}
		for j, v := range row {
			if reason := v.validate(t.Columns[j].Kind); reason != "" {
				return fmt.Sprintf(".rows[%d][%d]", i, j), reason
			}
		}
	}
	return "", ""
}

// checkLabel requires a non-empty single-line label.
func checkLabel(s string) string {
	if strings.TrimSpace(s) == "" {
		return "empty"
	}
	return checkText(s, MaxLabelBytes, false)
}

// checkText requires valid UTF-8 of at most max bytes with no control
// characters (newlines and tabs are allowed when multiline).
func checkText(s string, max int, multiline bool) string {
	if len(s) > max {
		return fmt.Sprintf("%d bytes, at most %d", len(s), max)
	}
	if !utf8.ValidString(s) {
		return "not valid UTF-8"
	}
	for _, r := range s {
		if multiline && (r == '\n' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) {
			return fmt.Sprintf("control character %U", r)
		}
	}
	return ""
}

// checkURL accepts absolute http and https URLs with a host, and absolute
// paths on the host ("/files/1", not "//elsewhere").
func checkURL(s string) string {
	if s == "" {
		return "empty"
	}
	if reason := checkText(s, MaxTextBytes, false); reason != "" {
		return reason
	}
	u, err := url.Parse(s)
	if err != nil {
		return "not a URL"
	}
	switch {
	case u.Scheme == "" && u.Host == "" && strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") && !strings.HasPrefix(s, "/\\"):
		// Not "//host" nor "/\\host": browsers read both as another host.
		return ""
	case (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil:
		return ""
	}
	return "only http(s) URLs and absolute paths are allowed"
}

// clone returns a deep copy of r, so that neither the provider nor a caller
// can change a cached result.
func (r Result) clone() Result {
	out := r
	out.Fields = append([]Field(nil), r.Fields...)
	if r.Tables != nil {
		out.Tables = make([]Table, len(r.Tables))
		for i, t := range r.Tables {
			t.Columns = append([]Column(nil), t.Columns...)
			rows := make([][]Value, len(t.Rows))
			for j, row := range t.Rows {
				rows[j] = append([]Value(nil), row...)
			}
			t.Rows = rows
			out.Tables[i] = t
		}
	}
	out.Documents = append([]Document(nil), r.Documents...)
	out.Links = append([]Link(nil), r.Links...)
	return out
}
