package gpuclient

// Against the real service: tests/sdk/test_go_sdk.py runs `go test ./...` with the demo stack's
// API root and keys in the environment (the same stack and data as the Python SDK's tests).
// Without GPUCLIENT_TEST_BASE_URL (plain `go test`) these tests skip; with it, every other
// variable they need must be there too.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func liveEnv(t *testing.T, name string) string {
	t.Helper()
	if os.Getenv("GPUCLIENT_TEST_BASE_URL") == "" {
		t.Skip("GPUCLIENT_TEST_BASE_URL is not set: no live service (tests/sdk/test_go_sdk.py sets it)")
	}
	value := os.Getenv(name)
	if value == "" {
		t.Fatalf("%s is not set", name)
	}
	return value
}

// live is an admin client of the demo stack whose decoding fails on a field the models lack.
// With GPUCLIENT_TEST_RECORD set, it appends "METHOD path status" of every answer to that file
// (test_go_sdk.py matches them against the served OpenAPI document's operations).
func live(t *testing.T) *Client {
	t.Helper()
	httpClient := &http.Client{Timeout: DefaultTimeout}
	if path := os.Getenv("GPUCLIENT_TEST_RECORD"); path != "" {
		httpClient.Transport = &recordingTransport{next: http.DefaultTransport, path: path}
	}
	client := NewClient(&Config{
		BaseURL:    liveEnv(t, "GPUCLIENT_TEST_BASE_URL"),
		APIKey:     liveEnv(t, "GPUCLIENT_TEST_API_KEY"),
		HTTPClient: httpClient,
	})
	client.strictDecoding = true
	return client
}

type recordingTransport struct {
	next http.RoundTripper
	path string
	mu   sync.Mutex
}

func (r *recordingTransport) RoundTrip(request *http.Request) (*http.Response, error) {
	response, err := r.next.RoundTrip(request)
	if err != nil {
		return response, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	file, openErr := os.OpenFile(r.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if openErr != nil {
		response.Body.Close()
		return nil, openErr
	}
	defer file.Close()
	_, writeErr := fmt.Fprintf(file, "%s %s %d\n", request.Method, request.URL.EscapedPath(), response.StatusCode)
	if writeErr != nil {
		response.Body.Close()
		return nil, writeErr
	}
	return response, nil
}

func liveContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func apiError(t *testing.T, err error, status int, code string) *APIError {
	t.Helper()
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("want an *APIError %d %s, got %v", status, code, err)
	}
	if apiErr.StatusCode != status || apiErr.Code != code || apiErr.Message == "" || apiErr.Message == code {
		t.Fatalf("want %d %s with a message, got %d %s %q", status, code, apiErr.StatusCode, apiErr.Code, apiErr.Message)
	}
	if !strings.HasSuffix(apiErr.Timestamp, "Z") {
		t.Fatalf("envelope timestamp %q", apiErr.Timestamp)
	}
	return apiErr
}

func TestLiveDevicesListMatchesTheFleet(t *testing.T) {
	client, ctx := live(t), liveContext(t)
	want, _ := strconv.Atoi(liveEnv(t, "GPUCLIENT_TEST_DEVICE_COUNT"))
	wantNodes := strings.Split(liveEnv(t, "GPUCLIENT_TEST_NODES"), ",")
	devices, err := client.Devices.List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Devices registered through the API by other tests (on nodes outside the fleet) may be
	// there too: the fleet's own nodes hold exactly the fleet's GPUs.
	fleetNodes := map[string]bool{}
	for _, n := range wantNodes {
		fleetNodes[n] = true
	}
	onFleet, seenNodes := 0, map[string]bool{}
	for _, d := range devices.Items {
		if d.DeviceID == "" || d.ModelID == "" || d.DeviceIndex == nil || d.MemoryGB == nil {
			t.Fatalf("device %+v", d)
		}
		if fleetNodes[d.NodeName] {
			onFleet++
			seenNodes[d.NodeName] = true
		}
	}
	if onFleet != want || len(seenNodes) != len(fleetNodes) || devices.Pagination != nil {
		t.Fatalf("%d devices on %d of the fleet's nodes %v (pagination %v); the fleet has %d", onFleet, len(seenNodes), wantNodes, devices.Pagination, want)
	}
	page, err := client.Devices.List(ctx, &DeviceListOptions{Page: 2, Size: 5})
	if err != nil || len(page.Items) != 5 || page.Pagination == nil || page.TotalElements() != len(devices.Items) ||
		page.Items[0].DeviceID != devices.Items[5].DeviceID {
		t.Fatalf("page 2 of 5: %+v %v", page, err)
	}
	one, err := client.Devices.Get(ctx, devices.Items[0].DeviceID)
	if err != nil || one.DeviceID != devices.Items[0].DeviceID {
		t.Fatalf("get: %+v %v", one, err)
	}
	a100, err := client.Devices.List(ctx, &DeviceListOptions{ModelID: "A100_80GB"})
	if err != nil || len(a100.Items) == 0 || len(a100.Items) >= want {
		t.Fatalf("A100s: %v %v", a100, err)
	}
}

func TestLiveCreateAndReleaseAnAllocation(t *testing.T) {
	client, ctx := live(t), liveContext(t)
	allocation, err := client.Allocations.Create(ctx, &AllocationRequest{
		Namespace: "go-sdk-tests", PodName: "go-mig", WorkloadType: "Inference", RequiredMemoryGB: 5, UseMIG: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	released := false
	defer func() {
		if !released {
			_, _ = client.Allocations.Release(context.Background(), allocation.AllocationID)
		}
	}()
	if allocation.AllocationID == "" || allocation.Status != "ALLOCATED" || allocation.DeviceID == "" ||
		allocation.AllocatedMemoryGB == nil || *allocation.AllocatedMemoryGB < 5 || allocation.AllocationTime == nil {
		t.Fatalf("allocation %+v", allocation)
	}
	listed, err := client.Allocations.List(ctx, &AllocationListOptions{Namespace: "go-sdk-tests"})
	if err != nil || len(listed.Items) != 1 || listed.Items[0].AllocationID != allocation.AllocationID {
		t.Fatalf("listed %+v %v", listed, err)
	}
	got, err := client.Allocations.Get(ctx, allocation.AllocationID)
	if err != nil || got.PodName != "go-mig" || len(got.History) == 0 {
		t.Fatalf("get %+v %v", got, err)
	}
	ended, err := client.Allocations.Release(ctx, allocation.AllocationID)
	released = err == nil
	if err != nil || ended.Status != "RELEASED" || ended.ReleaseTime == nil {
		t.Fatalf("release %+v %v", ended, err)
	}
	again, err := client.Allocations.Release(ctx, allocation.AllocationID)
	if err != nil || again.Status != "RELEASED" {
		t.Fatalf("a second release is idempotent: %+v %v", again, err)
	}
	listed, err = client.Allocations.List(ctx, &AllocationListOptions{Namespace: "go-sdk-tests"})
	if err != nil || len(listed.Items) != 0 {
		t.Fatalf("still live: %+v %v", listed, err)
	}
}

func TestLiveBatchAllocationsAllOrNone(t *testing.T) {
	client, ctx := live(t), liveContext(t)
	result, err := client.Batch.Allocations(ctx, []AllocationRequest{
		{Namespace: "go-sdk-tests", PodName: "go-batch-0", RequiredMemoryGB: 5, UseMIG: true},
		{Namespace: "go-sdk-tests", PodName: "go-batch-1", RequiredMemoryGB: 5, UseMIG: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range result.Allocations {
		if _, err := client.Allocations.Release(ctx, a.AllocationID); err != nil {
			t.Error(err)
		}
	}
	if result.BatchID == "" || len(result.Allocations) != 2 {
		t.Fatalf("batch %+v", result)
	}
	_, err = client.Batch.Allocations(ctx, []AllocationRequest{
		{Namespace: "go-sdk-tests", PodName: "go-batch-ok", RequiredMemoryGB: 5, UseMIG: true},
		{Namespace: "go-sdk-tests", PodName: "go-batch-huge", RequiredMemoryGB: 1000},
	})
	apiError(t, err, 409, CodeInsufficientResources)
	live, err := client.Allocations.List(ctx, &AllocationListOptions{Namespace: "go-sdk-tests"})
	if err != nil || len(live.Items) != 0 {
		t.Fatalf("a failed batch made none: %+v %v", live, err)
	}
}

func TestLiveErrors(t *testing.T) {
	client, ctx := live(t), liveContext(t)

	_, err := client.Devices.Get(ctx, "invalid-device-id")
	apiError(t, err, 404, CodeResourceNotFound)
	if !errors.Is(err, ErrResourceNotFound) {
		t.Fatal("errors.Is(err, ErrResourceNotFound)")
	}
	_, err = client.Allocations.Release(ctx, "ALLOC-NOSUCH00")
	apiError(t, err, 404, CodeResourceNotFound)

	_, err = client.Allocations.Create(ctx, &AllocationRequest{Namespace: "go-sdk-tests", PodName: "huge", RequiredMemoryGB: 1000})
	insufficient := apiError(t, err, 409, CodeInsufficientResources)
	if candidates, _ := insufficient.Context["closestCandidates"].([]any); len(candidates) == 0 {
		t.Fatalf("closestCandidates in the context: %+v (details %q)", insufficient.Context, insufficient.Details)
	}

	_, err = client.Allocations.Create(ctx, &AllocationRequest{Namespace: "go-sdk-tests", PodName: "cheap", RequiredMemoryGB: 10, MaxCostPerHour: 0.001})
	apiError(t, err, 422, CodeCostLimitExceeded)

	_, err = client.Allocations.Create(ctx, &AllocationRequest{Namespace: "go-sdk-tests", PodName: "bad", RequiredMemoryGB: -1})
	invalid := apiError(t, err, 400, CodeValidationError)
	if invalid.Fields["requiredMemoryGb"] == nil {
		t.Fatalf("fields %+v details %q", invalid.Fields, invalid.Details)
	}

	_, err = client.Devices.List(ctx, &DeviceListOptions{Status: "bogus"})
	bogus := apiError(t, err, 400, CodeInvalidParameter)
	if !strings.Contains(bogus.Details+bogus.Message+string(bogus.Body), "status") {
		t.Fatalf("the parameter is named: %+v", bogus)
	}

	rtx, err := client.Devices.List(ctx, &DeviceListOptions{ModelID: "RTX4090"})
	if err != nil || len(rtx.Items) == 0 {
		t.Fatal(err)
	}
	_, err = client.MIG.Create(ctx, rtx.Items[0].DeviceID, []string{"1g.10gb"})
	apiError(t, err, 422, CodeMIGNotSupported)

	wrong := NewClient(&Config{BaseURL: client.BaseURL(), APIKey: "gak_wrong_key"})
	_, err = wrong.Devices.List(ctx, nil)
	apiError(t, err, 401, CodeUnauthorized)
	anonymous := NewClient(&Config{BaseURL: client.BaseURL()})
	_, err = anonymous.Allocations.Create(ctx, &AllocationRequest{Namespace: "go-sdk-tests", PodName: "anon", RequiredMemoryGB: 1})
	apiError(t, err, 401, CodeUnauthorized)

	viewer := NewClient(&Config{BaseURL: client.BaseURL(), APIKey: liveEnv(t, "GPUCLIENT_TEST_VIEWER_KEY")})
	if _, err := viewer.Devices.List(ctx, nil); err != nil {
		t.Fatalf("a viewer reads: %v", err)
	}
	_, err = viewer.Allocations.Create(ctx, &AllocationRequest{Namespace: "go-sdk-tests", PodName: "viewer", RequiredMemoryGB: 1})
	apiError(t, err, 403, CodeForbidden)
}

func TestLiveGPUNotAvailableForMIGOnAGPUAllocatedWhole(t *testing.T) {
	client, ctx := live(t), liveContext(t)
	whole, err := client.Allocations.Create(ctx, &AllocationRequest{
		Namespace: "go-sdk-tests", PodName: "go-whole", RequiredMemoryGB: 30, PreferredModelID: "A100_80GB",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = client.Allocations.Release(context.Background(), whole.AllocationID) }()
	_, err = client.MIG.Create(ctx, whole.DeviceID, []string{"1g.10gb"})
	apiError(t, err, 409, CodeGPUNotAvailable)
}

// The rate limit of a live server (3 anonymous requests a minute): its 429 carries
// Retry-After, and the client waits exactly that long between its bounded retries.
func TestLiveRateLimitIsRetriedAfterRetryAfter(t *testing.T) {
	baseURL := liveEnv(t, "GPUCLIENT_TEST_RATE_LIMITED_URL")
	ctx := liveContext(t)
	client := NewClient(&Config{BaseURL: baseURL, MaxRetries: 2})
	var waits []time.Duration
	client.sleep = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d) // recorded, not slept: the window is a minute
		return ctx.Err()
	}
	var err error
	for i := 0; i < 10 && err == nil; i++ {
		_, err = client.Devices.List(ctx, nil)
	}
	limited := apiError(t, err, 429, CodeRateLimitExceeded)
	if !limited.HasRetryAfter || limited.RetryAfter < time.Second || limited.RetryAfter > time.Minute {
		t.Fatalf("RetryAfter %v", limited.RetryAfter)
	}
	if len(waits) != 2 {
		t.Fatalf("waits %v: want MaxRetries (2) of them", waits)
	}
	for _, w := range waits {
		if w < time.Second || w > time.Minute {
			t.Fatalf("waits %v are not the service's Retry-After", waits)
		}
	}
	if rl := client.RateLimit(); rl == nil || rl.Limit != 3 || rl.Remaining != 0 {
		t.Fatalf("rate limit headers %+v", rl)
	}
	// A cap below what the service asks returns at once.
	capped := NewClient(&Config{BaseURL: baseURL, MaxRetryWait: time.Millisecond})
	capped.sleep = func(context.Context, time.Duration) error { t.Fatal("slept"); return nil }
	_, err = capped.Devices.List(ctx, nil)
	apiError(t, err, 429, CodeRateLimitExceeded)
}

// Every read of every area decodes strictly: a field the service sends that a Go model lacks
// fails here.
func TestLiveEveryReadDecodesIntoTheModels(t *testing.T) {
	client, ctx := live(t), liveContext(t)
	devices, err := client.Devices.List(ctx, &DeviceListOptions{ModelID: "A100_80GB"})
	if err != nil || len(devices.Items) == 0 {
		t.Fatal(err)
	}
	device := devices.Items[0]
	pods, err := client.Resources.AllPods(ctx, nil)
	if err != nil || len(pods.Items) == 0 {
		t.Fatal(err)
	}
	pod := pods.Items[0]
	reads := map[string]func() (any, error){
		"devices.statistics":  func() (any, error) { return client.Devices.Statistics(ctx) },
		"devices.overheating": func() (any, error) { return client.Devices.Overheating(ctx, nil) },
		"devices.health":      func() (any, error) { return client.Devices.Health(ctx, device.DeviceID) },
		"mig.get":             func() (any, error) { return client.MIG.Get(ctx, device.DeviceID) },
		"mig.available":       func() (any, error) { return client.MIG.Available(ctx, &PageOptions{Page: 1, Size: 3}) },
		"mig.statistics":      func() (any, error) { return client.MIG.Statistics(ctx) },
		"allocations.expiring": func() (any, error) {
			return client.Allocations.Expiring(ctx, &ExpiringOptions{Hours: 48})
		},
		"allocations.cost-statistics": func() (any, error) { return client.Allocations.CostStatistics(ctx, 7) },
		"allocations.reconciliation":  func() (any, error) { return client.Allocations.Reconciliation(ctx, "") },
		"metrics.usage-statistics": func() (any, error) {
			return client.Metrics.UsageStatistics(ctx, &WindowOptions{Hours: 1, Page: 1, Size: 4})
		},
		"metrics.overheating-alerts": func() (any, error) { return client.Metrics.OverheatingAlerts(ctx, nil) },
		"metrics.collection-status":  func() (any, error) { return client.Metrics.CollectionStatus(ctx) },
		"cost.analysis":              func() (any, error) { return client.Cost.Analyze(ctx, 1) },
		"cost.optimization":          func() (any, error) { return client.Cost.Optimization(ctx, 1) },
		"cost.statistics":            func() (any, error) { return client.Cost.Statistics(ctx, 0) },
		"cost.prices":                func() (any, error) { return client.Cost.Prices(ctx) },
		"cost.price":                 func() (any, error) { return client.Cost.Price(ctx, device.ModelID) },
		"cost.budgets":               func() (any, error) { return client.Cost.Budgets(ctx) },
		"cluster.overview":           func() (any, error) { return client.Cluster.Overview(ctx) },
		"cluster.health":             func() (any, error) { return client.Cluster.Health(ctx) },
		"cluster.forecast":           func() (any, error) { return client.Cluster.Forecast(ctx, 6) },
		"cluster.service-health":     func() (any, error) { return client.Cluster.ServiceHealth(ctx) },
		"resources.pods":             func() (any, error) { return client.Resources.Pods(ctx, nil) },
		"resources.pod":              func() (any, error) { return client.Resources.Pod(ctx, pod.Namespace, pod.Name) },
		"resources.top-pods":         func() (any, error) { return client.Resources.TopPods(ctx, "gpu", 3) },
		"resources.nodes":            func() (any, error) { return client.Resources.Nodes(ctx, nil) },
		"resources.node":             func() (any, error) { return client.Resources.Node(ctx, device.NodeName) },
		"resources.usage":            func() (any, error) { return client.Resources.Usage(ctx, "") },
		"resources.namespaces":       func() (any, error) { return client.Resources.Namespaces(ctx, nil) },
		"resources.statistics":       func() (any, error) { return client.Resources.Statistics(ctx, 1) },
		"resources.health":           func() (any, error) { return client.Resources.Health(ctx) },
		"resources.alerts":           func() (any, error) { return client.Resources.Alerts(ctx, nil) },
		"resources.forecast":         func() (any, error) { return client.Resources.Forecast(ctx, 6) },
		"resources.metrics-status":   func() (any, error) { return client.Resources.MetricsStatus(ctx) },
		"webhooks.list":              func() (any, error) { return client.Webhooks.List(ctx) },
	}
	names := make([]string, 0, len(reads))
	for name := range reads {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		result, err := reads[name]()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if encoded, _ := json.Marshal(result); string(encoded) == "null" {
			t.Errorf("%s: no result", name)
		}
	}
	overview, err := client.Cluster.Overview(ctx)
	if err == nil && (overview.TotalGPUDevices == nil || *overview.TotalGPUDevices != len(mustList(t, client))) {
		t.Errorf("overview counts %v GPUs", overview.TotalGPUDevices)
	}
	health, err := client.Cluster.ServiceHealth(ctx)
	if err != nil || health["status"] != "UP" {
		t.Errorf("service health %v %v", health, err)
	}
}

func mustList(t *testing.T, client *Client) []Device {
	devices, err := client.Devices.List(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return devices.Items
}

func TestLiveWebhookLifecycle(t *testing.T) {
	client, ctx := live(t), liveContext(t)
	hook, err := client.Webhooks.Create(ctx, &WebhookRequest{
		Name: "go-sdk", URL: "https://93.184.215.14/services/T00000000/B00000000/XXXXXXXX",
		Events: []string{"GPU_OVERHEATING", "ALLOCATION_FAILED"}, Secret: "webhook_secret_key", Active: Bool(false),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = client.Webhooks.Delete(context.Background(), hook.WebhookID) }()
	if hook.WebhookID == "" || hook.Active == nil || *hook.Active || len(hook.Events) != 2 {
		t.Fatalf("hook %+v", hook)
	}
	renamed, err := client.Webhooks.Update(ctx, hook.WebhookID, &WebhookUpdate{Name: String("go-sdk-renamed"), Events: []string{"GPU_OVERHEATING"}})
	if err != nil || renamed.Name != "go-sdk-renamed" || len(renamed.Events) != 1 {
		t.Fatalf("update %+v %v", renamed, err)
	}
	_, err = client.Webhooks.Test(ctx, hook.WebhookID)
	apiError(t, err, 400, CodeInvalidParameter)
	deliveries, err := client.Webhooks.Deliveries(ctx, hook.WebhookID, &DeliveryListOptions{Limit: 10})
	if err != nil || len(deliveries) != 0 {
		t.Fatalf("deliveries %+v %v", deliveries, err)
	}
	deleted, err := client.Webhooks.Delete(ctx, hook.WebhookID)
	if err != nil || deleted.WebhookID != hook.WebhookID {
		t.Fatalf("delete %+v %v", deleted, err)
	}
	_, err = client.Webhooks.Get(ctx, hook.WebhookID)
	apiError(t, err, 404, CodeResourceNotFound)
}

// A delivery the service really sent (captured by tests/sdk/test_go_sdk.py): the raw body, its
// X-Signature-256 header and the secret it was registered with.
type capturedDelivery struct {
	Secret    string `json:"secret"`
	Body      string `json:"body"`
	Signature string `json:"signature"`
	EventID   string `json:"eventId"`
	// WebhookSignature and WebhookTimestamp: the attempt's X-Webhook-Signature and
	// X-Webhook-Timestamp headers.
	WebhookSignature string `json:"webhookSignature"`
	WebhookTimestamp string `json:"webhookTimestamp"`
}

func TestLiveWebhookDeliveryVerifies(t *testing.T) {
	raw, err := os.ReadFile(liveEnv(t, "GPUCLIENT_TEST_WEBHOOK_DELIVERY"))
	if err != nil {
		t.Fatal(err)
	}
	var delivery capturedDelivery
	if err := json.Unmarshal(raw, &delivery); err != nil {
		t.Fatal(err)
	}
	body := []byte(delivery.Body)
	header := http.Header{}
	header.Set(SignatureHeader, delivery.Signature)
	header.Set(WebhookSignatureHeader, delivery.WebhookSignature)
	header.Set(WebhookTimestampHeader, delivery.WebhookTimestamp)
	seconds, err := strconv.ParseInt(delivery.WebhookTimestamp, 10, 64)
	if err != nil {
		t.Fatalf("X-Webhook-Timestamp %q: %v", delivery.WebhookTimestamp, err)
	}
	sentAt := time.Unix(seconds, 0)
	if time.Since(sentAt) > 30*time.Minute || time.Until(sentAt) > time.Minute {
		t.Fatalf("the attempt was sent at %s", sentAt)
	}
	// The clock is pinned to just after the attempt: the suite may run longer than 5 minutes.
	at := func(secret string, moment time.Time) *WebhookVerifier {
		return &WebhookVerifier{Secret: secret, Now: func() time.Time { return moment }}
	}
	event, err := at(delivery.Secret, sentAt.Add(2*time.Second)).VerifyHeaders(body, header)
	if err != nil {
		t.Fatalf("the service's delivery does not verify: %v", err)
	}
	if event.Event != "WEBHOOK_TEST" || event.Signature != delivery.Signature || sentAt.Sub(event.Timestamp.Time) > 10*time.Minute {
		t.Fatalf("event %+v", event)
	}
	var data map[string]any
	if err := json.Unmarshal(event.Data, &data); err != nil {
		t.Fatal(err)
	}
	if _, err := at(delivery.Secret+"x", sentAt).VerifyHeaders(body, header); !errors.Is(err, ErrWebhookSignature) {
		t.Fatalf("another secret: %v", err)
	}
	tampered := []byte(strings.Replace(delivery.Body, "WEBHOOK_TEST", "WEBHOOK_TESX", 1))
	if _, err := at(delivery.Secret, sentAt).VerifyHeaders(tampered, header); !errors.Is(err, ErrWebhookSignature) {
		t.Fatalf("tampered: %v", err)
	}
	if _, err := at(delivery.Secret, sentAt.Add(6*time.Minute)).VerifyHeaders(body, header); !errors.Is(err, ErrWebhookTimestamp) {
		t.Fatalf("a replay six minutes later: %v", err)
	}
	// The seed's body signature alone still verifies, within the day-long event tolerance.
	if _, err := VerifyWebhook(delivery.Secret, body, delivery.Signature, 0); err != nil {
		t.Fatalf("the body signature alone: %v", err)
	}
	if _, err := VerifyWebhook(delivery.Secret, tampered, delivery.Signature, 0); !errors.Is(err, ErrWebhookSignature) {
		t.Fatalf("tampered, body signature alone: %v", err)
	}
	later := WebhookVerifier{Secret: delivery.Secret, EventTolerance: time.Hour, Now: func() time.Time { return time.Now().Add(2 * time.Hour) }}
	if _, err := later.Verify(body, delivery.Signature); !errors.Is(err, ErrWebhookTimestamp) {
		t.Fatalf("a replay two hours later: %v", err)
	}
}

// The writes of every area, each undone (or refused on purpose where it cannot be undone: a
// registered GPU stays in the inventory, so an existing one is registered again for a 409 that
// only a valid body reaches).
func TestLiveWritesOfEveryArea(t *testing.T) {
	client, ctx := live(t), liveContext(t)
	devices := mustList(t, client)
	existing := devices[0]
	purchased := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	_, err := client.Devices.Register(ctx, &DeviceRegistration{
		NodeName: existing.NodeName, ModelID: existing.ModelID, DeviceIndex: *existing.DeviceIndex,
		PurchaseCost: Float64(2500), PurchaseDate: &purchased,
	})
	apiError(t, err, 409, CodeResourceAlreadyExists)

	rtx, err := client.Devices.List(ctx, &DeviceListOptions{ModelID: "RTX4090"})
	if err != nil || len(rtx.Items) == 0 {
		t.Fatal(err)
	}
	parkedID, status := rtx.Items[len(rtx.Items)-1].DeviceID, rtx.Items[len(rtx.Items)-1].DeviceStatus
	parked, err := client.Devices.UpdateStatus(ctx, parkedID, "MAINTENANCE")
	if err != nil || parked.DeviceStatus != "MAINTENANCE" {
		t.Fatalf("parked %+v %v", parked, err)
	}
	if restored, err := client.Devices.UpdateStatus(ctx, parkedID, status); err != nil || restored.DeviceStatus != status {
		t.Fatalf("restored %+v %v", restored, err)
	}

	layout, err := client.MIG.Create(ctx, "gpu-worker-3-GPU-07", []string{"1g.10gb", "2g.20gb"})
	if err != nil {
		t.Fatal(err)
	}
	var profiles []string
	for _, instance := range layout.Instances {
		profiles = append(profiles, instance.Profile)
	}
	sort.Strings(profiles)
	if removed, err := client.MIG.Delete(ctx, "gpu-worker-3-GPU-07"); err != nil || len(removed.Instances) != 0 {
		t.Fatalf("delete %+v %v", removed, err)
	}
	if strings.Join(profiles, ",") != "1g.10gb,2g.20gb" {
		t.Fatalf("profiles %v", profiles)
	}

	prices, err := client.Cost.Prices(ctx)
	if err != nil || len(prices) == 0 {
		t.Fatal(err)
	}
	changed, err := client.Cost.SetPrice(ctx, "A100_80GB", 1.23, "go sdk test")
	restored, resetErr := client.Cost.ResetPrice(ctx, "A100_80GB")
	if err != nil || changed.PricePerHour == nil || *changed.PricePerHour != 1.23 || changed.Source != "go sdk test" {
		t.Fatalf("set price %+v %v", changed, err)
	}
	if resetErr != nil || restored.PricePerHour == nil || *restored.PricePerHour == 1.23 {
		t.Fatalf("reset price %+v %v", restored, resetErr)
	}

	budget, err := client.Cost.CreateBudget(ctx, &BudgetRequest{Scope: "team", Name: "go-sdk-team", MonthlyBudget: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = client.Cost.DeleteBudget(context.Background(), budget.BudgetID) }()
	if budget.BudgetID == "" || budget.MonthlyBudget == nil || *budget.MonthlyBudget != 1000 {
		t.Fatalf("budget %+v", budget)
	}
	if updated, err := client.Cost.UpdateBudget(ctx, budget.BudgetID, 50); err != nil || *updated.MonthlyBudget != 50 {
		t.Fatalf("update %+v %v", updated, err)
	}
	if got, err := client.Cost.Budget(ctx, budget.BudgetID); err != nil || got.Name != "go-sdk-team" {
		t.Fatalf("get %+v %v", got, err)
	}
	if checked, err := client.Cost.CheckBudgets(ctx); err != nil || len(checked) == 0 {
		t.Fatalf("check %+v %v", checked, err)
	}
	if deleted, err := client.Cost.DeleteBudget(ctx, budget.BudgetID); err != nil || deleted.BudgetID != budget.BudgetID {
		t.Fatalf("delete %+v %v", deleted, err)
	}

	if synced, err := client.Metrics.Collect(ctx); err != nil || synced.Status == "" {
		t.Fatalf("collect %+v %v", synced, err)
	}
	collected, err := client.Batch.CollectMetrics(ctx, &MetricsCollectRequest{Nodes: []string{existing.NodeName}, TimeRange: "1h"})
	if err != nil || len(collected.Nodes) != 1 || collected.Nodes[0].Status != "OK" || collected.Nodes[0].GPUMetrics == nil {
		t.Fatalf("batch collect %+v %v", collected, err)
	}
	now := FormatTime(time.Now())
	receipt, err := client.Webhooks.ReceiveAlertmanager(ctx, map[string]any{
		"version": "4", "status": "firing", "receiver": "gpu-analytics",
		"groupLabels": map[string]string{}, "commonLabels": map[string]string{}, "commonAnnotations": map[string]string{},
		"externalURL": "http://alertmanager:9093",
		"alerts": []map[string]any{{
			"status": "firing", "labels": map[string]string{"alertname": "GpuTemperatureHigh", "node": existing.NodeName},
			"annotations": map[string]string{"summary": "go sdk test"}, "startsAt": now, "endsAt": "0001-01-01T00:00:00Z",
			"generatorURL": "http://prometheus:9090", "fingerprint": "go-sdk-test-0001",
		}},
	})
	if err != nil || receipt.Received == nil || *receipt.Received != 1 {
		t.Fatalf("receipt %+v %v", receipt, err)
	}
}

func TestLiveAccounts(t *testing.T) {
	client, ctx := live(t), liveContext(t)
	name := fmt.Sprintf("go-sdk-%d", time.Now().UnixNano())
	const password = "correct horse battery staple"
	created, err := client.Users.Create(ctx, &UserRequest{Username: name, Password: password, Role: "operator", Team: "ml-platform"})
	if err != nil || created.Username != name || created.Role != "operator" || created.Team != "ml-platform" || created.Disabled == nil || *created.Disabled {
		t.Fatalf("create %+v %v", created, err)
	}
	_, err = client.Users.Create(ctx, &UserRequest{Username: name, Password: password, Role: "viewer"})
	apiError(t, err, 409, CodeResourceAlreadyExists)
	users, err := client.Users.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, user := range users {
		found = found || user.Username == name
	}
	if !found {
		t.Fatalf("%s not in %+v", name, users)
	}
	changed, err := client.Users.Update(ctx, name, &UserUpdate{Role: String("viewer"), Team: String("")})
	if err != nil || changed.Role != "viewer" || changed.Team != "" {
		t.Fatalf("update %+v %v", changed, err)
	}
	if got, err := client.Users.Get(ctx, name); err != nil || got.Role != "viewer" {
		t.Fatalf("get %+v %v", got, err)
	}
	const newPassword = "another horse battery staple"
	if _, err := client.Users.SetPassword(ctx, name, &PasswordRequest{Password: newPassword}); err != nil {
		t.Fatal(err)
	}
	_, err = client.Users.SetPassword(ctx, name, &PasswordRequest{Password: "short"})
	if invalid := apiError(t, err, 400, CodeValidationError); invalid.Fields["password"] == nil {
		t.Fatalf("fields %+v", invalid.Fields)
	}

	made, err := client.APIKeys.Create(ctx, &APIKeyRequest{Role: "viewer", Name: "go-sdk-ci", Username: name})
	if err != nil || made.Key == "" || made.KeyID == "" || made.Username != name {
		t.Fatalf("create key %+v %v", made, err)
	}
	keys, err := client.APIKeys.List(ctx, name)
	if err != nil || len(keys) != 1 || keys[0].KeyID != made.KeyID || keys[0].RevokedAt != nil {
		t.Fatalf("keys %+v %v", keys, err)
	}
	byKey := NewClient(&Config{BaseURL: client.BaseURL(), APIKey: made.Key})
	if _, err := byKey.Devices.List(ctx, nil); err != nil {
		t.Fatalf("the new key reads: %v", err)
	}
	// The user's password, over HTTP basic; the demo stack has no token signing key (404).
	byPassword := NewClient(&Config{BaseURL: client.BaseURL(), Username: name, Password: newPassword, HTTPClient: client.httpClient})
	if _, err := byPassword.Devices.List(ctx, nil); err != nil {
		t.Fatalf("the user reads with its password: %v", err)
	}
	_, err = byPassword.IssueToken(ctx)
	apiError(t, err, 404, CodeResourceNotFound)

	revoked, err := client.APIKeys.Revoke(ctx, made.KeyID)
	if err != nil || revoked.KeyID != made.KeyID || revoked.RevokedAt == nil {
		t.Fatalf("revoke %+v %v", revoked, err)
	}
	_, err = byKey.Devices.List(ctx, nil)
	apiError(t, err, 401, CodeUnauthorized)
	if disabled, err := client.Users.Update(ctx, name, &UserUpdate{Disabled: Bool(true)}); err != nil || !*disabled.Disabled {
		t.Fatalf("disable %+v %v", disabled, err)
	}
}
