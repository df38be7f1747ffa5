// Package gpuclient is the Go SDK of the K8s GPU Management API (seed section 7.3).
//
//	client := gpuclient.NewClient(&gpuclient.Config{
//		BaseURL: "http://HOST:8080/k8s-monitor/api/v1",
//		APIKey:  "KEY",
//	})
//	devices, err := client.Devices.List(ctx, nil)
//
// Every call takes a context.Context first and returns typed results; an error answer of the
// service is an *APIError (use errors.As) carrying the HTTP status and the API's code, message
// and details. The package uses the standard library only.
//
// Retry policy (at most Config.MaxRetries times; a wait longer than Config.MaxRetryWait is never
// slept, the error is returned at once with its RetryAfter set):
//
//   - 429 RATE_LIMIT_EXCEEDED, any method: the service refused before doing any work, so the
//     request is sent again after the Retry-After it asked for (the body's error.retryAfter or
//     the header).
//   - 502, 503, 504 (METRICS_UNAVAILABLE when Prometheus is down, a proxy without a backend):
//     idempotent methods only (GET, HEAD, OPTIONS, PUT, DELETE), after Retry-After when given,
//     else exponential backoff. A POST is never repeated on these: an allocation must not be made
//     twice.
//   - A failed connection: idempotent methods only, with the same backoff.
//
// Every wait ends early when the context is done.
package gpuclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Version is this SDK's version, sent in the User-Agent header.
const Version = "0.1.0"

// DefaultBaseURL is the API root of a service on this machine.
const DefaultBaseURL = "http://localhost:8080/k8s-monitor/api/v1"

// Defaults of the retry policy (see the package documentation).
const (
	DefaultMaxRetries   = 3
	DefaultBackoff      = 500 * time.Millisecond
	DefaultMaxBackoff   = 8 * time.Second
	DefaultMaxRetryWait = 60 * time.Second
	DefaultTimeout      = 30 * time.Second
)

// Config configures a Client. Zero values take the defaults.
type Config struct {
	// BaseURL is the API root, with its /k8s-monitor/api/v1 prefix (DefaultBaseURL when empty).
	BaseURL string
	// APIKey is sent as "Authorization: Bearer <key>"; a token from IssueToken (or an OIDC
	// issuer's JWT) goes here too.
	APIKey string
	// Username and Password are sent as HTTP basic auth instead: a user's password, or any
	// name with an API key as the password. Ignored when APIKey is set.
	Username string
	Password string
	// HTTPClient sends the requests; nil means a client of its own with a DefaultTimeout
	// timeout. Give one to set timeouts, proxies, TLS or a test transport.
	HTTPClient *http.Client
	// MaxRetries bounds the retries of one call: 0 means DefaultMaxRetries, negative means none.
	MaxRetries int
	// Backoff is the first wait when the service gave no Retry-After, doubled per attempt up
	// to MaxBackoff (DefaultBackoff and DefaultMaxBackoff when zero).
	Backoff    time.Duration
	MaxBackoff time.Duration
	// MaxRetryWait is the longest Retry-After honoured (DefaultMaxRetryWait when zero); a
	// longer one returns the error at once, so a caller is never blocked without knowing.
	MaxRetryWait time.Duration
	// UserAgent replaces the User-Agent header ("k8s-gpu-client-go/<Version>").
	UserAgent string
}

// RateLimit holds the service's X-RateLimit-* headers of the last answer.
type RateLimit struct {
	Limit       int
	Remaining   int
	ResetEpochS int64
}

// Client is a client of the K8s GPU Management API. It is safe for concurrent use.
type Client struct {
	// Devices: the GPU inventory (/gpu/devices).
	Devices *DevicesService
	// MIG: MIG layouts (/gpu/mig).
	MIG *MIGService
	// Allocations: the allocation ledger (/gpu/allocations).
	Allocations *AllocationsService
	// Metrics: GPU metrics from Prometheus and the inventory sync (/gpu/metrics).
	Metrics *MetricsService
	// Cost: cost analysis, optimisation, the price book and budgets (/gpu/cost).
	Cost *CostService
	// Cluster: overview, health and forecast of the GPU cluster, and the service's health.
	Cluster *ClusterService
	// Resources: pods, nodes and cluster usage (/resources).
	Resources *ResourcesService
	// Webhooks: event webhooks and their delivery log (/webhooks), the Alertmanager receiver.
	Webhooks *WebhooksService
	// Batch: many allocations in one call, metrics collection for a list of nodes (/batch).
	Batch *BatchService
	// Users: accounts (/users); IssueToken exchanges credentials for a token.
	Users *UsersService
	// APIKeys: API keys (/api-keys).
	APIKeys *APIKeysService

	baseURL      string
	apiKey       string
	username     string
	password     string
	httpClient   *http.Client
	maxRetries   int
	backoff      time.Duration
	maxBackoff   time.Duration
	maxRetryWait time.Duration
	userAgent    string
	// strictDecoding makes a response field the models lack an error (the tests' contract check).
	strictDecoding bool
	// sleep waits d or until ctx is done (replaced in tests).
	sleep func(ctx context.Context, d time.Duration) error

	mu        sync.Mutex
	rateLimit *RateLimit
}

// NewClient returns a client for cfg (nil: every default). It makes no request.
func NewClient(cfg *Config) *Client {
	if cfg == nil {
		cfg = &Config{}
	}
	c := &Client{
		baseURL:      strings.TrimRight(cfg.BaseURL, "/"),
		apiKey:       cfg.APIKey,
		username:     cfg.Username,
		password:     cfg.Password,
		httpClient:   cfg.HTTPClient,
		maxRetries:   cfg.MaxRetries,
		backoff:      cfg.Backoff,
		maxBackoff:   cfg.MaxBackoff,
		maxRetryWait: cfg.MaxRetryWait,
		userAgent:    cfg.UserAgent,
		sleep:        sleepContext,
	}
	if c.baseURL == "" {
		c.baseURL = DefaultBaseURL
	}
	if c.httpClient == nil {
		c.httpClient = &http.Client{Timeout: DefaultTimeout}
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = DefaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.backoff <= 0 {
		c.backoff = DefaultBackoff
	}
	if c.maxBackoff <= 0 {
		c.maxBackoff = DefaultMaxBackoff
	}
	if c.maxRetryWait <= 0 {
		c.maxRetryWait = DefaultMaxRetryWait
	}
	if c.userAgent == "" {
		c.userAgent = "k8s-gpu-client-go/" + Version
	}
	c.Devices = &DevicesService{c}
	c.MIG = &MIGService{c}
	c.Allocations = &AllocationsService{c}
	c.Metrics = &MetricsService{c}
	c.Cost = &CostService{c}
	c.Cluster = &ClusterService{c}
	c.Resources = &ResourcesService{c}
	c.Webhooks = &WebhooksService{c}
	c.Batch = &BatchService{c}
	c.Users = &UsersService{c}
	c.APIKeys = &APIKeysService{c}
	return c
}

// BaseURL is the API root the client sends to.
func (c *Client) BaseURL() string { return c.baseURL }

// RateLimit returns the X-RateLimit-* headers of the last answer (nil before the first, or
// when the service sent none).
func (c *Client) RateLimit() *RateLimit {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rateLimit == nil {
		return nil
	}
	copied := *c.rateLimit
	return &copied
}

// envelope is the service's success answer: {"status":"success","data":...,"pagination":...}.
type envelope struct {
	Status     string          `json:"status"`
	Data       json.RawMessage `json:"data"`
	Pagination *Pagination     `json:"pagination"`
}

// request describes one call: the path is relative to the base URL.
type request struct {
	method string
	path   string
	query  url.Values
	body   any
	// raw: the answer has no envelope (the actuator); it is decoded into out as it is.
	raw bool
}

// call sends r (with retries) and decodes the envelope's data into out (when not nil); it
// returns the envelope's pagination.
func (c *Client) call(ctx context.Context, r request, out any) (*Pagination, error) {
	if ctx == nil {
		return nil, errors.New("gpuclient: nil context")
	}
	target, err := c.url(r.path, r.query)
	if err != nil {
		return nil, err
	}
	var payload []byte
	if r.body != nil {
		payload, err = json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("gpuclient: encoding the %s %s body: %w", r.method, r.path, err)
		}
	}
	response, body, err := c.exchange(ctx, r.method, target, payload)
	if err != nil {
		return nil, err
	}
	if r.raw {
		if out == nil {
			return nil, nil
		}
		if err := c.decode(body, out); err != nil {
			return nil, invalidResponse(r.method, target, response.StatusCode, body, err)
		}
		return nil, nil
	}
	var answer envelope
	if err := json.Unmarshal(body, &answer); err != nil || answer.Status != "success" || answer.Data == nil {
		if err == nil {
			err = errors.New("not a success envelope")
		}
		return nil, invalidResponse(r.method, target, response.StatusCode, body, err)
	}
	if out != nil {
		if err := c.decode(answer.Data, out); err != nil {
			return nil, invalidResponse(r.method, target, response.StatusCode, body, err)
		}
	}
	return answer.Pagination, nil
}

func (c *Client) decode(data []byte, out any) error {
	decoder := json.NewDecoder(bytes.NewReader(data))
	if c.strictDecoding {
		decoder.DisallowUnknownFields()
	}
	return decoder.Decode(out)
}

func (c *Client) url(path string, query url.Values) (string, error) {
	var target string
	if strings.HasPrefix(path, "/../") {
		// Relative to the API root, as the seed writes ${API_BASE}/../actuator/health.
		base, err := url.Parse(c.baseURL + "/")
		if err != nil {
			return "", fmt.Errorf("gpuclient: base URL %q: %w", c.baseURL, err)
		}
		reference, _ := url.Parse(path[1:])
		target = base.ResolveReference(reference).String()
	} else {
		target = c.baseURL + path
	}
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	if _, err := url.Parse(target); err != nil {
		return "", fmt.Errorf("gpuclient: %w", err)
	}
	return target, nil
}

// exchange returns the successful response and its body, after retries; an *APIError else.
func (c *Client) exchange(ctx context.Context, method, target string, payload []byte) (*http.Response, []byte, error) {
	for attempt := 0; ; attempt++ {
		response, body, err := c.send(ctx, method, target, payload)
		if err != nil {
			if ctx.Err() != nil || !idempotent(method) || attempt >= c.maxRetries {
				return nil, nil, err
			}
			if waitErr := c.sleep(ctx, c.backoffFor(attempt)); waitErr != nil {
				return nil, nil, err
			}
			continue
		}
		c.noteRateLimit(response.Header)
		if response.StatusCode < 400 {
			return response, body, nil
		}
		apiErr := errorFromResponse(method, target, response, body)
		wait, retry := c.retryWait(method, apiErr, attempt)
		if !retry {
			return nil, nil, apiErr
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, nil, apiErr
		}
	}
}

func (c *Client) send(ctx context.Context, method, target string, payload []byte) (*http.Response, []byte, error) {
	var reader io.Reader
	if payload != nil {
		reader = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, reader)
	if err != nil {
		return nil, nil, fmt.Errorf("gpuclient: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	} else if c.username != "" || c.password != "" {
		req.SetBasicAuth(c.username, c.password)
	}
	response, err := c.httpClient.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("gpuclient: %s %s: %w", method, target, err)
	}
	defer response.Body.Close()
	body, err := io.ReadAll(response.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("gpuclient: %s %s: reading the answer: %w", method, target, err)
	}
	return response, body, nil
}

// retryWait says whether and after how long a failed answer is sent again.
func (c *Client) retryWait(method string, apiErr *APIError, attempt int) (time.Duration, bool) {
	if attempt >= c.maxRetries {
		return 0, false
	}
	status := apiErr.StatusCode
	retryable := status == http.StatusTooManyRequests ||
		((status == http.StatusBadGateway || status == http.StatusServiceUnavailable ||
			status == http.StatusGatewayTimeout) && idempotent(method))
	if !retryable {
		return 0, false
	}
	wait := apiErr.RetryAfter
	if !apiErr.HasRetryAfter {
		wait = c.backoffFor(attempt)
	}
	if wait > c.maxRetryWait {
		return 0, false
	}
	return wait, true
}

func (c *Client) backoffFor(attempt int) time.Duration {
	wait := float64(c.backoff) * math.Pow(2, float64(attempt))
	if wait > float64(c.maxBackoff) {
		return c.maxBackoff
	}
	return time.Duration(wait)
}

func (c *Client) noteRateLimit(header http.Header) {
	limit, err1 := strconv.Atoi(header.Get("X-RateLimit-Limit"))
	remaining, err2 := strconv.Atoi(header.Get("X-RateLimit-Remaining"))
	reset, err3 := strconv.ParseInt(header.Get("X-RateLimit-Reset"), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return
	}
	c.mu.Lock()
	c.rateLimit = &RateLimit{Limit: limit, Remaining: remaining, ResetEpochS: reset}
	c.mu.Unlock()
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

func sleepContext(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// pathOf joins segments into a URL path, each percent-encoded (ids can hold any character).
func pathOf(segments ...string) string {
	var b strings.Builder
	for _, segment := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(segment))
	}
	return b.String()
}

// query builds query parameters, leaving out empty strings and zero numbers.
type query url.Values

func (q query) str(key, value string) query {
	if value != "" {
		url.Values(q).Set(key, value)
	}
	return q
}

func (q query) num(key string, value int) query {
	if value != 0 {
		url.Values(q).Set(key, strconv.Itoa(value))
	}
	return q
}

func (q query) values() url.Values { return url.Values(q) }

// Bool, String and Float64 return pointers, for the optional fields of requests.
func Bool(v bool) *bool { return &v }

// String returns a pointer to v.
func String(v string) *string { return &v }

// Float64 returns a pointer to v.
func Float64(v float64) *float64 { return &v }
