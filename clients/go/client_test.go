package gpuclient

// The HTTP behaviour on a scripted httptest server: retries on 429 honouring Retry-After, backoff
// on 503 for GETs only, the error envelope in its old and new forms, auth, paths, contexts. The
// real service's answers are checked in live_test.go.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

type answer struct {
	status int
	body   string
	header map[string]string
}

type seen struct {
	method, path, rawQuery, body string
	header                       http.Header
}

// script answers requests in order (the last answer repeats) and records them.
type script struct {
	mu       sync.Mutex
	answers  []answer
	requests []seen
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, string(body), r.Header.Clone()})
	a := s.answers[0]
	if len(s.answers) > 1 {
		s.answers = s.answers[1:]
	}
	s.mu.Unlock()
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

func errorBody(code string, retryAfter int, details string) string {
	member := map[string]any{"code": code, "message": "refused: " + code}
	if retryAfter > 0 {
		member["retryAfter"] = retryAfter
	}
	if details != "" {
		member["details"] = json.RawMessage(details)
	}
	out, _ := json.Marshal(map[string]any{"status": "error", "error": member, "timestamp": "2026-01-01T00:00:00Z"})
	return string(out)
}

const okDevices = `{"status":"success","data":[{"deviceId":"gpu-worker-1-gpu-00","nodeName":"gpu-worker-1","deviceIndex":0,"currentTempC":null}],"timestamp":"2026-01-01T00:00:00Z"}`

// stub starts a server for the answers and a client whose waits are recorded, not slept.
func stub(t *testing.T, cfg Config, answers ...answer) (*Client, *script, *[]time.Duration) {
	t.Helper()
	s := &script{answers: answers}
	server := httptest.NewServer(s)
	t.Cleanup(server.Close)
	cfg.BaseURL = server.URL + "/k8s-monitor/api/v1"
	client := NewClient(&cfg)
	var waits []time.Duration
	client.sleep = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return ctx.Err()
	}
	return client, s, &waits
}

func TestRetries429AfterRetryAfter(t *testing.T) {
	client, s, waits := stub(t, Config{APIKey: "k"},
		answer{429, errorBody(CodeRateLimitExceeded, 2, ""), map[string]string{"Retry-After": "2"}},
		answer{429, "", map[string]string{"Retry-After": "1"}},
		answer{200, okDevices, nil},
	)
	devices, err := client.Devices.List(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(devices.Items) != 1 || devices.Items[0].DeviceID != "gpu-worker-1-gpu-00" || devices.Items[0].CurrentTempC != nil {
		t.Fatalf("devices: %+v", devices.Items)
	}
	if got := *waits; len(got) != 2 || got[0] != 2*time.Second || got[1] != time.Second {
		t.Fatalf("waits %v, want [2s 1s]", got)
	}
	if len(s.requests) != 3 {
		t.Fatalf("%d requests, want 3", len(s.requests))
	}
}

func TestRetries429ForPostsButNotBeyondTheCap(t *testing.T) {
	client, s, waits := stub(t, Config{MaxRetryWait: 10 * time.Second},
		answer{429, errorBody(CodeRateLimitExceeded, 30, ""), map[string]string{"Retry-After": "30"}},
	)
	_, err := client.Allocations.Create(context.Background(), &AllocationRequest{Namespace: "n", PodName: "p", RequiredMemoryGB: 1})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Code != CodeRateLimitExceeded {
		t.Fatalf("error %v", err)
	}
	if !apiErr.HasRetryAfter || apiErr.RetryAfter != 30*time.Second {
		t.Fatalf("RetryAfter %v %v", apiErr.RetryAfter, apiErr.HasRetryAfter)
	}
	if len(*waits) != 0 || len(s.requests) != 1 {
		t.Fatalf("waited %v over %d requests; a wait beyond the cap returns at once", *waits, len(s.requests))
	}
	if !errors.Is(err, ErrRateLimitExceeded) || errors.Is(err, ErrResourceNotFound) {
		t.Fatal("errors.Is by code")
	}
}

func TestRetriesAreBounded(t *testing.T) {
	client, s, waits := stub(t, Config{MaxRetries: 2},
		answer{429, errorBody(CodeRateLimitExceeded, 1, ""), nil},
	)
	_, err := client.Devices.Statistics(context.Background())
	if !errors.Is(err, ErrRateLimitExceeded) || len(*waits) != 2 || len(s.requests) != 3 {
		t.Fatalf("err %v, waits %v, %d requests", err, *waits, len(s.requests))
	}
	client, s, waits = stub(t, Config{MaxRetries: -1}, answer{429, errorBody(CodeRateLimitExceeded, 1, ""), nil})
	if _, err := client.Devices.Statistics(context.Background()); err == nil || len(*waits) != 0 || len(s.requests) != 1 {
		t.Fatalf("MaxRetries -1: err %v, waits %v", err, *waits)
	}
}

func Test503BacksOffExponentiallyOnGetsOnly(t *testing.T) {
	unavailable := answer{503, errorBody(CodeMetricsUnavailable, 0, `"Prometheus is down"`), nil}
	client, s, waits := stub(t, Config{Backoff: time.Second, MaxBackoff: 3 * time.Second}, unavailable)
	_, err := client.Metrics.UsageStatistics(context.Background(), &WindowOptions{Hours: 1})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != CodeMetricsUnavailable || apiErr.Details != "Prometheus is down" {
		t.Fatalf("error %#v", err)
	}
	if got := *waits; len(got) != 3 || got[0] != time.Second || got[1] != 2*time.Second || got[2] != 3*time.Second {
		t.Fatalf("waits %v, want [1s 2s 3s]", got)
	}
	if len(s.requests) != 4 || s.requests[0].rawQuery != "hours=1" {
		t.Fatalf("requests %+v", s.requests)
	}
	client, s, waits = stub(t, Config{}, unavailable)
	if _, err := client.Allocations.Create(context.Background(), &AllocationRequest{Namespace: "n", PodName: "p", RequiredMemoryGB: 1}); err == nil {
		t.Fatal("no error")
	}
	if len(*waits) != 0 || len(s.requests) != 1 {
		t.Fatalf("a POST is never repeated on 503: waits %v, %d requests", *waits, len(s.requests))
	}
}

func TestContextEndsTheWait(t *testing.T) {
	s := &script{answers: []answer{{429, errorBody(CodeRateLimitExceeded, 30, ""), nil}}}
	server := httptest.NewServer(s)
	defer server.Close()
	client := NewClient(&Config{BaseURL: server.URL})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := client.Devices.List(ctx, nil)
	if !errors.Is(err, ErrRateLimitExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("err %v after %s", err, time.Since(start))
	}
}

func TestErrorEnvelopeOldAndNewDetails(t *testing.T) {
	cases := []struct {
		name, body string
		check      func(*APIError) bool
	}{
		{"new: details a string, fields", `{"status":"error","error":{"code":"VALIDATION_ERROR","message":"Request body is invalid.","details":"requiredMemoryGb: must be > 0","fields":{"requiredMemoryGb":["Must be greater than 0."]}},"timestamp":"2026-01-01T00:00:00Z"}`,
			func(e *APIError) bool {
				return e.Details == "requiredMemoryGb: must be > 0" && e.Fields["requiredMemoryGb"] != nil && e.Context == nil
			}},
		{"old: validation details an object", `{"status":"error","error":{"code":"VALIDATION_ERROR","message":"Request body is invalid.","details":{"requiredMemoryGb":["Must be greater than 0."]}},"timestamp":"2026-01-01T00:00:00Z"}`,
			func(e *APIError) bool {
				return e.Details == `{"requiredMemoryGb":["Must be greater than 0."]}` && e.Fields["requiredMemoryGb"] != nil
			}},
		{"new: context", `{"status":"error","error":{"code":"INSUFFICIENT_RESOURCES","message":"No GPU fits.","details":null,"context":{"closestCandidates":[{"deviceId":"d"}]}},"timestamp":"2026-01-01T00:00:00Z"}`,
			func(e *APIError) bool { return e.Details == "" && e.Context["closestCandidates"] != nil }},
		{"old: details an object becomes the context", `{"status":"error","error":{"code":"INSUFFICIENT_RESOURCES","message":"No GPU fits.","details":{"closestCandidates":[]}},"timestamp":"2026-01-01T00:00:00Z"}`,
			func(e *APIError) bool { return e.Context["closestCandidates"] != nil && e.Fields == nil }},
		{"not an envelope", `<html>Bad Gateway</html>`,
			func(e *APIError) bool { return e.Code == "HTTP_409" && strings.Contains(e.Message, "Bad Gateway") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client, _, _ := stub(t, Config{}, answer{409, c.body, nil})
			_, err := client.Devices.Get(context.Background(), "d")
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != 409 || !c.check(apiErr) {
				t.Fatalf("%#v", err)
			}
			if apiErr.Message == "" || !strings.Contains(err.Error(), "HTTP 409") {
				t.Fatalf("message %q, Error %q", apiErr.Message, err.Error())
			}
		})
	}
}

func TestAuthPathsQueriesBodiesAndTheCallersHTTPClient(t *testing.T) {
	var used bool
	transport := roundTripper(func(r *http.Request) (*http.Response, error) {
		used = true
		return http.DefaultTransport.RoundTrip(r)
	})
	ok := answer{200, `{"status":"success","data":{"allocationId":"ALLOC-1","allocationTime":"2026-01-01T00:00:00","status":"ALLOCATED"}}`, nil}
	client, s, _ := stub(t, Config{APIKey: "gak_key", HTTPClient: &http.Client{Transport: transport}}, ok)
	release := time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("KST", 9*3600))
	allocation, err := client.Allocations.Create(context.Background(), &AllocationRequest{
		Namespace: "model-serving", PodName: "vllm-pod", RequiredMemoryGB: 20, UseMIG: true, PlannedReleaseTime: &release,
	})
	if err != nil || !used {
		t.Fatalf("err %v, caller's client used %v", err, used)
	}
	if allocation.AllocationTime == nil || !allocation.AllocationTime.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("a naive time is UTC: %v", allocation.AllocationTime)
	}
	first := s.requests[0]
	var body map[string]any
	_ = json.Unmarshal([]byte(first.body), &body)
	if first.header.Get("Authorization") != "Bearer gak_key" || first.header.Get("Content-Type") != "application/json" ||
		!strings.HasPrefix(first.header.Get("User-Agent"), "k8s-gpu-client-go/") {
		t.Fatalf("headers %v", first.header)
	}
	want := map[string]any{"namespace": "model-serving", "podName": "vllm-pod", "requiredMemoryGb": 20.0, "useMig": true,
		"plannedReleaseTime": "2026-01-01T18:04:05Z"}
	if len(body) != len(want) {
		t.Fatalf("body %v", body)
	}
	for k, v := range want {
		if body[k] != v {
			t.Fatalf("body[%s] = %v, want %v", k, body[k], v)
		}
	}

	client, s, _ = stub(t, Config{Username: "ops", Password: "gak_secret"}, ok)
	_, _ = client.Resources.Pod(context.Background(), "model-serving", "a/b c")
	_, _ = client.Devices.List(context.Background(), &DeviceListOptions{ModelID: "A100_80GB", Page: 2, Size: 5})
	_, _ = client.Cluster.ServiceHealth(context.Background())
	if user, pass, ok := (&http.Request{Header: s.requests[0].header}).BasicAuth(); !ok || user != "ops" || pass != "gak_secret" {
		t.Fatal("basic auth")
	}
	paths := []string{s.requests[0].path, s.requests[1].path + "?" + s.requests[1].rawQuery, s.requests[2].path}
	wantPaths := []string{
		"/k8s-monitor/api/v1/resources/pods/model-serving/a%2Fb%20c",
		"/k8s-monitor/api/v1/gpu/devices?modelId=A100_80GB&page=2&size=5",
		"/k8s-monitor/api/actuator/health",
	}
	for i := range wantPaths {
		if paths[i] != wantPaths[i] {
			t.Fatalf("path %q, want %q", paths[i], wantPaths[i])
		}
	}
}

func TestPaginationAndRateLimitHeaders(t *testing.T) {
	client, _, _ := stub(t, Config{}, answer{200,
		`{"status":"success","data":[],"pagination":{"page":3,"size":10,"totalElements":32,"totalPages":4}}`,
		map[string]string{"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "99", "X-RateLimit-Reset": "1767225600"}})
	if client.RateLimit() != nil {
		t.Fatal("rate limit before any answer")
	}
	page, err := client.MIG.Available(context.Background(), &PageOptions{Page: 3, Size: 10})
	if err != nil || page.Pagination == nil || page.TotalElements() != 32 || len(page.Items) != 0 {
		t.Fatalf("page %+v err %v", page, err)
	}
	if rl := client.RateLimit(); rl == nil || rl.Limit != 100 || rl.Remaining != 99 || rl.ResetEpochS != 1767225600 {
		t.Fatalf("rate limit %+v", rl)
	}
}

func TestASuccessThatIsNotAnEnvelope(t *testing.T) {
	client, _, _ := stub(t, Config{}, answer{200, `[1,2]`, nil})
	_, err := client.Devices.List(context.Background(), nil)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != CodeInvalidResponse || apiErr.StatusCode != 200 {
		t.Fatalf("%v", err)
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRequestTimesAreWrittenAsTheServiceWritesThem(t *testing.T) {
	kst := time.FixedZone("KST", 9*3600)
	purchased := time.Date(2025, 3, 1, 9, 0, 0, 500, kst)
	encoded, err := json.Marshal(&DeviceRegistration{NodeName: "n", ModelID: "L4", PurchaseDate: &purchased})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"nodeName":"n","modelId":"L4","deviceIndex":0,"purchaseDate":"2025-03-01T00:00:00Z"}`
	if string(encoded) != want {
		t.Fatalf("%s, want %s", encoded, want)
	}
	encoded, _ = json.Marshal(AllocationRequest{Namespace: "n", PodName: "p", RequiredMemoryGB: 1})
	if string(encoded) != `{"namespace":"n","podName":"p","requiredMemoryGb":1}` {
		t.Fatalf("zero fields are left out: %s", encoded)
	}
}
