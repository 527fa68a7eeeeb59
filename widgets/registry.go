package widgets

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"runtime/debug"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"

	"github.com/mosiachat/mosiachat/attendance"
)

// Defaults applied by [NewRegistry] for zero Config fields.
const (
	// DefaultTimeout bounds one provider fetch.
	DefaultTimeout = 2 * time.Second
	// DefaultCacheTTL is how long a successful result is reused.
	DefaultCacheTTL = 30 * time.Second
	// DefaultMaxCacheEntries bounds the cache.
	DefaultMaxCacheEntries = 10000
	// DefaultMaxCacheBytes bounds the memory of the results the cache keeps.
	DefaultMaxCacheBytes = 64 << 20
	// DefaultMaxConcurrency bounds the providers one Fetch runs at once.
	DefaultMaxConcurrency = 8
	// DefaultMaxAbandonedPerWidget is how many timed-out provider calls of
	// one widget, still running, stop new calls of it.
	DefaultMaxAbandonedPerWidget = 16
)

// Config tunes a [Registry]. A nil *Config is the same as the zero Config.
type Config struct {
	// DefaultTimeout bounds each provider call whose Widget.Timeout is zero.
	// Defaults to 2s ([DefaultTimeout]).
	DefaultTimeout time.Duration
	// CacheTTL is how long a successful result is reused for a widget and
	// conversation whose Widget.CacheTTL is zero. Errors are never cached.
	// Defaults to 30s ([DefaultCacheTTL]); negative disables the cache.
	CacheTTL time.Duration
	// MaxCacheEntries bounds the cache; when full, expired entries go first,
	// then those closest to expiry. Defaults to 10000.
	MaxCacheEntries int
	// MaxCacheBytes bounds the approximate memory of the results the
	// cache keeps, counted as MaxResultBytes counts it (results of up to
	// 2 MiB each would otherwise let 10,000 entries reach gigabytes);
	// entries make room the same way. Defaults to 64 MiB
	// ([DefaultMaxCacheBytes]).
	MaxCacheBytes int
	// MaxConcurrency bounds how many providers one Fetch call runs at once.
	// Defaults to 8.
	MaxConcurrency int
	// MaxAbandonedPerWidget is how many provider calls of a widget that
	// timed out but have not returned yet (a provider that ignores its
	// context) stop new ones: while that many run, fetches of the widget
	// answer ErrTimeout at once instead of calling the provider again.
	// Calls already under way when the count is reached may still add to
	// it (at most the calls a burst of fetches started within one
	// timeout). Defaults to 16 ([DefaultMaxAbandonedPerWidget]).
	MaxAbandonedPerWidget int
	// Logger receives one line per failed widget fetch (widget ID,
	// conversation ID, error code; never provider error text, CPFs or
	// message bodies). Defaults to discarding.
	Logger *slog.Logger
	// Now is the clock used for cache expiry. Defaults to time.Now.
	Now func() time.Time
}

// Registry holds the widgets a host registered and fetches them for a
// conversation: concurrently, each within its timeout, with one fetch in
// flight per widget and conversation and a short cache, and with each
// provider's failure confined to its own result.
//
// A Registry is safe for concurrent use; widgets may be registered while
// fetches run. It starts no goroutine of its own beyond those serving a
// Fetch call. A provider call that ignores its context outlives its
// timeout; the registry then does not call that provider again for the same
// conversation until the abandoned call returns, and once
// Config.MaxAbandonedPerWidget of a widget's calls are abandoned it starts
// no new one of that widget (see Provider), answering ErrTimeout at once
// meanwhile.
type Registry struct {
	access Access
	cfg    Config
	log    *slog.Logger

	mu      sync.RWMutex
	widgets map[string]Widget

	flights singleflight.Group
	cache   *cache

	// abandonedMu guards the calls that timed out but still run: by flight
	// key, and counted per widget.
	abandonedMu     sync.Mutex
	abandonedKeys   map[string]bool
	abandonedWidget map[string]int
}

var widgetIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// NewRegistry returns an empty registry that authorizes every fetch with
// access. access is required; cfg may be nil.
func NewRegistry(access Access, cfg *Config) (*Registry, error) {
	if access == nil {
		return nil, fmt.Errorf("%w: widgets: NewRegistry needs an Access", attendance.ErrInvalidArgument)
	}
	var c Config
	if cfg != nil {
		c = *cfg
	}
	switch {
	case c.DefaultTimeout < 0:
		return nil, fmt.Errorf("%w: widgets: Config.DefaultTimeout must not be negative", attendance.ErrInvalidArgument)
	case c.MaxCacheEntries < 0 || c.MaxCacheBytes < 0:
		return nil, fmt.Errorf("%w: widgets: Config.MaxCacheEntries and MaxCacheBytes must not be negative", attendance.ErrInvalidArgument)
	case c.MaxConcurrency < 0:
		return nil, fmt.Errorf("%w: widgets: Config.MaxConcurrency must not be negative", attendance.ErrInvalidArgument)
	case c.MaxAbandonedPerWidget < 0:
		return nil, fmt.Errorf("%w: widgets: Config.MaxAbandonedPerWidget must not be negative", attendance.ErrInvalidArgument)
	}
	if c.DefaultTimeout == 0 {
		c.DefaultTimeout = DefaultTimeout
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = DefaultCacheTTL
	}
	if c.MaxCacheEntries == 0 {
		c.MaxCacheEntries = DefaultMaxCacheEntries
	}
	if c.MaxCacheBytes == 0 {
		c.MaxCacheBytes = DefaultMaxCacheBytes
	}
	if c.MaxConcurrency == 0 {
		c.MaxConcurrency = DefaultMaxConcurrency
	}
	if c.MaxAbandonedPerWidget == 0 {
		c.MaxAbandonedPerWidget = DefaultMaxAbandonedPerWidget
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Registry{
		access:          access,
		cfg:             c,
		log:             log,
		widgets:         make(map[string]Widget),
		cache:           newCache(c.MaxCacheEntries, c.MaxCacheBytes),
		abandonedKeys:   make(map[string]bool),
		abandonedWidget: make(map[string]int),
	}, nil
}

// Register adds a widget. A widget ID already registered is
// [ErrDuplicateWidget]; a malformed Widget (bad ID, empty title, nil
// provider, negative timeout) matches attendance.ErrInvalidArgument. Either
// way the registry is unchanged.
func (r *Registry) Register(w Widget) error {
	switch {
	case !widgetIDPattern.MatchString(w.ID):
		return fmt.Errorf("%w: widgets: widget id %q: use 1-64 of a-z 0-9 - _ . starting with a letter or digit", attendance.ErrInvalidArgument, w.ID)
	case checkLabel(w.Title) != "":
		return fmt.Errorf("%w: widgets: widget %q: title: %s", attendance.ErrInvalidArgument, w.ID, checkLabel(w.Title))
	case checkText(w.Description, MaxTextBytes, false) != "":
		return fmt.Errorf("%w: widgets: widget %q: description: %s", attendance.ErrInvalidArgument, w.ID, checkText(w.Description, MaxTextBytes, false))
	case w.Provider == nil:
		return fmt.Errorf("%w: widgets: widget %q has no Provider", attendance.ErrInvalidArgument, w.ID)
	case w.Timeout < 0:
		return fmt.Errorf("%w: widgets: widget %q: Timeout must not be negative", attendance.ErrInvalidArgument, w.ID)
	}
	if w.Timeout == 0 {
		w.Timeout = r.cfg.DefaultTimeout
	}
	if w.CacheTTL == 0 {
		w.CacheTTL = r.cfg.CacheTTL
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.widgets[w.ID]; dup {
		return fmt.Errorf("%w: %q", ErrDuplicateWidget, w.ID)
	}
	r.widgets[w.ID] = w
	return nil
}

// Available returns the registered widgets that profile lists, in the
// profile's order, each once. IDs the profile lists but nobody registered
// are skipped; [Registry.CheckProfile] reports them.
func (r *Registry) Available(profile attendance.Profile) []Descriptor {
	ws := r.allowed(profile)
	out := make([]Descriptor, len(ws))
	for i, w := range ws {
		out[i] = Descriptor{ID: w.ID, Title: w.Title, Description: w.Description}
	}
	return out
}

// CheckProfile returns an error matching [ErrUnknownWidget] naming every
// widget ID that profile lists but is not registered; nil if there is none.
// Hosts call it when they load profiles, to catch a typo at start-up rather
// than a silently missing box.
func (r *Registry) CheckProfile(profile attendance.Profile) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var missing []string
	for _, id := range profile.Widgets {
		if _, ok := r.widgets[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %q", ErrUnknownWidget, missing)
	}
	return nil
}

func (r *Registry) allowed(profile attendance.Profile) []Widget {
	r.mu.RLock()
	defer r.mu.RUnlock()
	seen := make(map[string]bool, len(profile.Widgets))
	var out []Widget
	for _, id := range profile.Widgets {
		w, ok := r.widgets[id]
		if !ok || seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, w)
	}
	return out
}

// FetchParams are the arguments of [Registry.Fetch].
type FetchParams struct {
	// Principal is who asks: an agent to whom the conversation is offered
	// or assigned, or a supervisor. Required.
	Principal attendance.Principal
	// Profile is the principal's profile; its Widgets say which widgets
	// they may see.
	Profile attendance.Profile
	// ConversationID is the conversation being served. Required.
	ConversationID string
	// Only restricts the fetch to these widget IDs, in this order (the panel
	// refreshing one box). Each must be registered ([ErrUnknownWidget]) and
	// allowed by Profile ([ErrWidgetNotAllowed]). Empty means every widget
	// the profile allows.
	Only []string
	// Refresh skips the cache (a fetch already in flight is still joined).
	Refresh bool
}

// WidgetResult is the outcome of one widget in a [Registry.Fetch]: either a
// Result or an Err, never both.
type WidgetResult struct {
	WidgetID string
	// Title is the result's title, or the widget's when the result has none
	// or there is an error.
	Title string
	// Result is the content; the zero Result when Err is set. Shared with
	// the cache: treat it as read-only.
	Result Result
	// Err is why there is no result: it matches ErrTimeout, ErrPanic,
	// ErrMalformedResult, the caller's context's error, or ErrProvider (a
	// *ProviderError wrapping the provider's own error). [ErrorCode]
	// classifies it for the panel.
	Err error
	// Cached reports that the result came from the cache.
	Cached bool
	// FetchedAt is when the provider produced the result (zero on error).
	FetchedAt time.Time
}

// MarshalJSON encodes the result for the panel. An error is sent as a code
// and a fixed pt-BR message, never as the provider's error text.
func (wr WidgetResult) MarshalJSON() ([]byte, error) {
	type errJSON struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	out := struct {
		WidgetID  string    `json:"widget_id"`
		Title     string    `json:"title"`
		Result    *Result   `json:"result,omitempty"`
		Error     *errJSON  `json:"error,omitempty"`
		Cached    bool      `json:"cached,omitempty"`
		FetchedAt time.Time `json:"fetched_at,omitzero"`
	}{WidgetID: wr.WidgetID, Title: wr.Title, Cached: wr.Cached, FetchedAt: wr.FetchedAt}
	if wr.Err != nil {
		code := ErrorCode(wr.Err)
		out.Error = &errJSON{Code: code, Message: errorMessage(code)}
	} else {
		res := wr.Result
		out.Result = &res
	}
	return json.Marshal(out)
}

// Fetch authorizes the principal on the conversation, then fetches every
// widget their profile allows (or params.Only) concurrently and returns one
// WidgetResult per widget, in the profile's order.
//
// The error is non-nil only when nothing was fetched: the principal may not
// see the conversation (attendance.ErrForbidden; a beneficiary may not fetch
// widgets at all, and an agent only while the conversation is offered or
// assigned to them), the conversation does not exist
// (attendance.ErrNotFound), params are malformed
// (attendance.ErrInvalidArgument, ErrUnknownWidget, ErrWidgetNotAllowed), or
// ctx ended before every widget answered (ctx's error). A provider's failure
// is reported in its own WidgetResult.Err.
//
// Each widget's result is cached per conversation for its CacheTTL, and
// concurrent fetches of the same widget and conversation share one provider
// call. That call runs with its own timeout and is not canceled when the
// caller gives up, so the cache still gets the answer; it keeps ctx's
// values.
func (r *Registry) Fetch(ctx context.Context, params FetchParams) ([]WidgetResult, error) {
	if params.ConversationID == "" {
		return nil, fmt.Errorf("%w: widgets: FetchParams.ConversationID is empty", attendance.ErrInvalidArgument)
	}
	if params.Principal.ID == "" {
		return nil, fmt.Errorf("%w: widgets: FetchParams.Principal.ID is empty", attendance.ErrInvalidArgument)
	}
	ws, err := r.selectWidgets(params.Profile, params.Only)
	if err != nil {
		return nil, err
	}
	conv, err := Authorize(ctx, r.access, params.Principal, params.ConversationID)
	if err != nil {
		return nil, err
	}
	results := make([]WidgetResult, len(ws))
	var g errgroup.Group
	g.SetLimit(r.cfg.MaxConcurrency)
	for i, w := range ws {
		g.Go(func() error {
			results[i] = r.fetchOne(ctx, w, conv, params.Refresh)
			return nil
		})
	}
	_ = g.Wait() // the goroutines never fail; errors are per widget
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("widgets: fetch: %w", err)
	}
	return results, nil
}

func (r *Registry) selectWidgets(profile attendance.Profile, only []string) ([]Widget, error) {
	allowed := r.allowed(profile)
	if len(only) == 0 {
		return allowed, nil
	}
	byID := make(map[string]Widget, len(allowed))
	for _, w := range allowed {
		byID[w.ID] = w
	}
	out := make([]Widget, 0, len(only))
	seen := make(map[string]bool, len(only))
	for _, id := range only {
		if seen[id] {
			continue
		}
		seen[id] = true
		w, ok := byID[id]
		if !ok {
			r.mu.RLock()
			_, registered := r.widgets[id]
			r.mu.RUnlock()
			if !registered {
				return nil, fmt.Errorf("%w: %q", ErrUnknownWidget, id)
			}
			return nil, fmt.Errorf("%w: %q", ErrWidgetNotAllowed, id)
		}
		out = append(out, w)
	}
	return out, nil
}

// Authorize is the check every read in the panel's side area goes through
// (widgets, beneficiary data, occurrences, journey): it asks a for the
// conversation, then allows only a supervisor, or the agent to whom the
// conversation is offered or assigned (state offered or active). A
// beneficiary, the system principal, another agent, or the same agent after
// the conversation left them get an error matching attendance.ErrForbidden;
// a's other errors (attendance.ErrNotFound, ...) are wrapped.
func Authorize(ctx context.Context, a Access, p attendance.Principal, conversationID string) (attendance.Conversation, error) {
	conv, err := a.AuthorizeView(ctx, p, conversationID)
	if err != nil {
		return attendance.Conversation{}, fmt.Errorf("widgets: conversation %q: %w", conversationID, err)
	}
	switch {
	case conv.ID != conversationID:
		return attendance.Conversation{}, fmt.Errorf("widgets: access returned conversation %q for %q: %w", conv.ID, conversationID, attendance.ErrForbidden)
	case p.Role == attendance.RoleSupervisor:
		return conv, nil
	case p.Role == attendance.RoleAgent && p.ID != "" && conv.AgentID == p.ID && conv.State.HoldsAgent():
		return conv, nil
	}
	return attendance.Conversation{}, fmt.Errorf("widgets: %s %q may not see the panel data of conversation %q: %w", p.Role, p.ID, conversationID, attendance.ErrForbidden)
}

// flightResult is what one provider call yields to every caller sharing it.
type flightResult struct {
	result Result
	err    error
	at     time.Time
	cached bool
}

func (r *Registry) fetchOne(ctx context.Context, w Widget, conv attendance.Conversation, refresh bool) WidgetResult {
	key := w.ID + "\x00" + conv.ID
	if !refresh && w.CacheTTL > 0 {
		if e, ok := r.cache.get(key, r.cfg.Now()); ok {
			return makeWidgetResult(w, flightResult{result: e.result.clone(), at: e.at}, true)
		}
	}
	ch := r.flights.DoChan(key, func() (any, error) {
		// Looked at again inside the flight: a flight that ended between
		// the look above and DoChan has filled the cache, and must not be
		// followed by a second provider call.
		if !refresh && w.CacheTTL > 0 {
			if e, ok := r.cache.get(key, r.cfg.Now()); ok {
				return flightResult{result: e.result, at: e.at, cached: true}, nil
			}
		}
		return r.runProvider(ctx, w, conv, key), nil
	})
	select {
	case res := <-ch:
		fr := res.Val.(flightResult)
		if fr.err == nil {
			fr.result = fr.result.clone()
		}
		return makeWidgetResult(w, fr, fr.cached)
	case <-ctx.Done():
		return WidgetResult{WidgetID: w.ID, Title: w.Title, Err: ctx.Err()}
	}
}

func makeWidgetResult(w Widget, fr flightResult, cached bool) WidgetResult {
	out := WidgetResult{WidgetID: w.ID, Title: w.Title, Err: fr.err, Cached: cached}
	if fr.err == nil {
		out.Result = fr.result
		out.FetchedAt = fr.at
		if fr.result.Title != "" {
			out.Title = fr.result.Title
		}
	}
	return out
}

// outcome is what the provider goroutine sends back.
type outcome struct {
	result Result
	err    error
}

// providerCall is one call of a provider, shared by the goroutine running it
// and runProvider; the registry's abandonedMu guards its fields.
type providerCall struct {
	returned  bool // the provider returned (or panicked)
	abandoned bool // runProvider stopped waiting for it
}

// runProvider calls the provider once, with its own timeout, recovering a
// panic and validating the result; a good result goes to the cache. While an
// earlier call for key that timed out is still running, or the widget has
// MaxAbandonedPerWidget of them, it answers ErrTimeout without calling the
// provider.
func (r *Registry) runProvider(ctx context.Context, w Widget, conv attendance.Conversation, key string) flightResult {
	if err := r.refuseWhileAbandoned(w, key); err != nil {
		r.logFailure(ctx, w.ID, conv.ID, err)
		return flightResult{err: err}
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.Timeout)
	defer cancel()
	call := &providerCall{}
	done := make(chan outcome, 1) // buffered: a late provider never blocks
	go func() {
		var o outcome
		returned := false
		defer func() {
			// A panic, or runtime.Goexit (returned still false, nothing to
			// recover).
			if v := recover(); v != nil || !returned {
				o = outcome{err: &PanicError{WidgetID: w.ID, Value: v, Stack: debug.Stack()}}
			}
			r.callReturned(call, w.ID, key)
			done <- o
		}()
		res, err := w.Provider.Fetch(fctx, Request{WidgetID: w.ID, Conversation: conv})
		returned = true
		o = outcome{result: res}
		if err != nil {
			o.err = &ProviderError{WidgetID: w.ID, Err: err}
		}
	}()

	var o outcome
	select {
	case o = <-done:
	case <-fctx.Done():
		r.abandon(call, w.ID, key)
		o = outcome{err: fmt.Errorf("%w: widget %q after %s", ErrTimeout, w.ID, w.Timeout)}
	}
	var pe *ProviderError
	switch {
	case o.err == nil:
		if err := o.result.Validate(); err != nil {
			var re *ResultError
			if errors.As(err, &re) {
				re.WidgetID = w.ID
			}
			o.err = err
		}
	case errors.As(o.err, &pe) && fctx.Err() != nil:
		// The provider gave up because the registry's deadline passed.
		o.err = fmt.Errorf("%w: widget %q after %s (%w)", ErrTimeout, w.ID, w.Timeout, pe.Err)
	}

	if o.err != nil {
		r.logFailure(ctx, w.ID, conv.ID, o.err)
		return flightResult{err: o.err}
	}
	fr := flightResult{result: o.result.clone(), at: r.cfg.Now()}
	if w.CacheTTL > 0 {
		r.cache.put(key, cacheEntry{result: fr.result, at: fr.at, expires: fr.at.Add(w.CacheTTL), size: fr.result.size()}, fr.at)
	}
	return fr
}

// refuseWhileAbandoned returns an ErrTimeout error if an abandoned call for
// key is still running, or if w has MaxAbandonedPerWidget of them; nil if
// the provider may be called.
func (r *Registry) refuseWhileAbandoned(w Widget, key string) error {
	r.abandonedMu.Lock()
	defer r.abandonedMu.Unlock()
	switch {
	case r.abandonedKeys[key]:
		return fmt.Errorf("%w: widget %q: an earlier call for this conversation timed out and has not returned", ErrTimeout, w.ID)
	case r.abandonedWidget[w.ID] >= r.cfg.MaxAbandonedPerWidget:
		return fmt.Errorf("%w: widget %q: %d earlier calls timed out and have not returned", ErrTimeout, w.ID, r.abandonedWidget[w.ID])
	}
	return nil
}

// abandon records that runProvider stopped waiting for call, unless the
// provider has already returned.
func (r *Registry) abandon(call *providerCall, widgetID, key string) {
	r.abandonedMu.Lock()
	defer r.abandonedMu.Unlock()
	if call.returned {
		return
	}
	call.abandoned = true
	r.abandonedKeys[key] = true
	r.abandonedWidget[widgetID]++
}

// callReturned records that the provider returned; an abandoned call stops
// counting.
func (r *Registry) callReturned(call *providerCall, widgetID, key string) {
	r.abandonedMu.Lock()
	defer r.abandonedMu.Unlock()
	call.returned = true
	if !call.abandoned {
		return
	}
	delete(r.abandonedKeys, key)
	if r.abandonedWidget[widgetID]--; r.abandonedWidget[widgetID] <= 0 {
		delete(r.abandonedWidget, widgetID)
	}
}

func (r *Registry) logFailure(ctx context.Context, widgetID, conversationID string, err error) {
	code := ErrorCode(err)
	attrs := []slog.Attr{
		slog.String("widget", widgetID),
		slog.String("conversation", conversationID),
		slog.String("code", code),
	}
	level := slog.LevelWarn
	var pe *PanicError
	if errors.As(err, &pe) {
		level = slog.LevelError
		attrs = append(attrs, slog.String("stack", string(pe.Stack)))
	}
	r.log.LogAttrs(ctx, level, "widgets: widget fetch failed", attrs...)
}

// cacheEntry is one cached result.
type cacheEntry struct {
	result  Result
	at      time.Time
	expires time.Time
	size    int // result.size()
}

// cache is a small TTL map bounded in entries and in result size. A
// min-heap by expiry sits beside the map, so making room in a full cache
// (expired entries first, then those closest to expiry) costs O(log n) per
// entry removed instead of a scan of every entry.
type cache struct {
	mu       sync.Mutex
	max      int
	maxBytes int
	bytes    int // sum of the entries' sizes
	entries  map[string]*cacheItem
	byExp    expiryHeap
}

// cacheItem is an entry with its key and its place in the heap.
type cacheItem struct {
	key   string
	entry cacheEntry
	index int
}

// expiryHeap orders items by expiry, soonest first (container/heap).
type expiryHeap []*cacheItem

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].entry.expires.Before(h[j].entry.expires) }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *expiryHeap) Push(x any) {
	it := x.(*cacheItem)
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *expiryHeap) Pop() any {
	old := *h
	n := len(old)
	it := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return it
}

func newCache(max, maxBytes int) *cache {
	return &cache{max: max, maxBytes: maxBytes, entries: make(map[string]*cacheItem)}
}

// drop removes it. Called with c.mu held.
func (c *cache) drop(it *cacheItem) {
	heap.Remove(&c.byExp, it.index)
	delete(c.entries, it.key)
	c.bytes -= it.entry.size
}

func (c *cache) get(key string, now time.Time) (cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.entries[key]
	if !ok {
		return cacheEntry{}, false
	}
	if !now.Before(it.entry.expires) {
		c.drop(it)
		return cacheEntry{}, false
	}
	return it.entry, true
}

func (c *cache) put(key string, e cacheEntry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if it, exists := c.entries[key]; exists {
		c.drop(it) // even if e is not kept: it is newer
	}
	if e.size > c.maxBytes {
		return // alone it would fill the cache
	}
	full := func() bool { return len(c.entries) >= c.max || c.bytes+e.size > c.maxBytes }
	if full() {
		// Every expired entry goes; then, if still full, the soonest to
		// expire.
		for len(c.byExp) > 0 && !now.Before(c.byExp[0].entry.expires) {
			c.drop(c.byExp[0])
		}
		for len(c.byExp) > 0 && full() {
			c.drop(c.byExp[0])
		}
	}
	it := &cacheItem{key: key, entry: e}
	heap.Push(&c.byExp, it)
	c.entries[key] = it
	c.bytes += e.size
}

// size returns how many entries the cache holds, expired or not.
func (c *cache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
