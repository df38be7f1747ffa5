package gpuclient

// The client's services, one per API area, in the order of the Python SDK's namespaces.

import (
	"context"
	"net/http"
)

func get[T any](ctx context.Context, c *Client, path string, q query) (*T, error) {
	out := new(T)
	if _, err := c.call(ctx, request{method: http.MethodGet, path: path, query: q.values()}, out); err != nil {
		return nil, err
	}
	return out, nil
}

func send[T any](ctx context.Context, c *Client, method, path string, q query, body any) (*T, error) {
	out := new(T)
	r := request{method: method, path: path, query: q.values(), body: body}
	if _, err := c.call(ctx, r, out); err != nil {
		return nil, err
	}
	return out, nil
}

func list[T any](ctx context.Context, c *Client, path string, q query) (*Page[T], error) {
	page := &Page[T]{Items: []T{}}
	pagination, err := c.call(ctx, request{method: http.MethodGet, path: path, query: q.values()}, &page.Items)
	if err != nil {
		return nil, err
	}
	page.Pagination = pagination
	return page, nil
}

func slice[T any](ctx context.Context, c *Client, method, path string, q query) ([]T, error) {
	items := []T{}
	if _, err := c.call(ctx, request{method: method, path: path, query: q.values()}, &items); err != nil {
		return nil, err
	}
	return items, nil
}

// ---- devices --------------------------------------------------------------------------------

// DevicesService: the GPU inventory (/gpu/devices).
type DevicesService struct{ c *Client }

const devicesPath = "/gpu/devices"

// List returns GPUs by node and index, filtered by opts (nil: all of them).
func (s *DevicesService) List(ctx context.Context, opts *DeviceListOptions) (*Page[Device], error) {
	q := query{}
	if opts != nil {
		q.str("nodeName", opts.NodeName).str("modelId", opts.ModelID).str("status", opts.Status).
			num("page", opts.Page).num("size", opts.Size)
	}
	return list[Device](ctx, s.c, devicesPath, q)
}

// Get returns one GPU.
func (s *DevicesService) Get(ctx context.Context, deviceID string) (*Device, error) {
	return get[Device](ctx, s.c, devicesPath+pathOf(deviceID), nil)
}

// Register registers a GPU with purchase (USD) and warranty data; needs an operator key.
func (s *DevicesService) Register(ctx context.Context, registration *DeviceRegistration) (*Device, error) {
	return send[Device](ctx, s.c, http.MethodPost, devicesPath, nil, registration)
}

// UpdateStatus sets ACTIVE, INACTIVE, MAINTENANCE, FAILED or MIG_ENABLED.
func (s *DevicesService) UpdateStatus(ctx context.Context, deviceID, status string) (*Device, error) {
	q := query{}.str("status", status)
	return send[Device](ctx, s.c, http.MethodPut, devicesPath+pathOf(deviceID, "status"), q, nil)
}

// Statistics returns GPU counts by model, node and status.
func (s *DevicesService) Statistics(ctx context.Context) (*DeviceStatistics, error) {
	return get[DeviceStatistics](ctx, s.c, devicesPath+"/statistics", nil)
}

// Overheating returns GPUs now above their threshold, hottest first.
func (s *DevicesService) Overheating(ctx context.Context, opts *PageOptions) (*Page[OverheatingDevice], error) {
	return list[OverheatingDevice](ctx, s.c, devicesPath+"/overheating", opts.query())
}

// Health returns one GPU's health verdict with its reasons.
func (s *DevicesService) Health(ctx context.Context, deviceID string) (*DeviceHealth, error) {
	return get[DeviceHealth](ctx, s.c, devicesPath+pathOf(deviceID, "health"), nil)
}

// ---- MIG ------------------------------------------------------------------------------------

// MIGService: MIG layouts (/gpu/mig).
type MIGService struct{ c *Client }

const migPath = "/gpu/mig"

// Get returns a GPU's layout: desired and observed instances, drift, the mig.config to apply.
func (s *MIGService) Get(ctx context.Context, deviceID string) (*MIGLayout, error) {
	return get[MIGLayout](ctx, s.c, migPath+pathOf("devices", deviceID), nil)
}

// Create adds instances (e.g. "1g.10gb", "2g.20gb"), validated against the model's geometry;
// they are PENDING until the exporter reports them.
func (s *MIGService) Create(ctx context.Context, deviceID string, profileIDs []string) (*MIGLayout, error) {
	body := map[string][]string{"profileIds": profileIDs}
	return send[MIGLayout](ctx, s.c, http.MethodPost, migPath+pathOf("devices", deviceID), nil, body)
}

// Delete removes every instance (GPU_NOT_AVAILABLE while one is allocated).
func (s *MIGService) Delete(ctx context.Context, deviceID string) (*MIGLayout, error) {
	return send[MIGLayout](ctx, s.c, http.MethodDelete, migPath+pathOf("devices", deviceID), nil, nil)
}

// Available returns free MIG instances by node, GPU and instance id.
func (s *MIGService) Available(ctx context.Context, opts *PageOptions) (*Page[MIGInstance], error) {
	return list[MIGInstance](ctx, s.c, migPath+"/available", opts.query())
}

// Statistics returns MIG instance counts by profile and state.
func (s *MIGService) Statistics(ctx context.Context) (*MIGStatistics, error) {
	return get[MIGStatistics](ctx, s.c, migPath+"/statistics", nil)
}

// ---- allocations ----------------------------------------------------------------------------

// AllocationsService: the allocation ledger (/gpu/allocations).
type AllocationsService struct{ c *Client }

const allocationsPath = "/gpu/allocations"

// Create allocates a whole GPU (UseMIG false) or a MIG instance with enough memory (GB).
// INSUFFICIENT_RESOURCES when nothing free fits, COST_LIMIT_EXCEEDED when all that fits costs
// more than MaxCostPerHour. Never retried on 503.
func (s *AllocationsService) Create(ctx context.Context, req *AllocationRequest) (*Allocation, error) {
	return send[Allocation](ctx, s.c, http.MethodPost, allocationsPath, nil, req)
}

// Release releases an allocation (idempotent: an ended one is returned as it is).
func (s *AllocationsService) Release(ctx context.Context, allocationID string) (*Allocation, error) {
	return send[Allocation](ctx, s.c, http.MethodDelete, allocationsPath+pathOf(allocationID), nil, nil)
}

// Get returns one allocation with its status history.
func (s *AllocationsService) Get(ctx context.Context, allocationID string) (*Allocation, error) {
	return get[Allocation](ctx, s.c, allocationsPath+pathOf(allocationID), nil)
}

// List returns allocations by allocation time (live ones unless opts.Status says otherwise).
func (s *AllocationsService) List(ctx context.Context, opts *AllocationListOptions) (*Page[Allocation], error) {
	q := query{}
	if opts != nil {
		q.str("namespace", opts.Namespace).str("userId", opts.UserID).str("teamId", opts.TeamID).
			str("status", opts.Status).num("page", opts.Page).num("size", opts.Size)
	}
	return list[Allocation](ctx, s.c, allocationsPath, q)
}

// Expiring returns live allocations whose planned release is near, soonest first.
func (s *AllocationsService) Expiring(ctx context.Context, opts *ExpiringOptions) (*Page[Allocation], error) {
	q := query{}
	if opts != nil {
		q.num("hours", opts.Hours).num("page", opts.Page).num("size", opts.Size)
	}
	return list[Allocation](ctx, s.c, allocationsPath+"/expiring", q)
}

// CostStatistics returns cost (USD) by team, namespace, user and model over the last days
// (0: the service's window).
func (s *AllocationsService) CostStatistics(ctx context.Context, days int) (*CostStatistics, error) {
	return get[CostStatistics](ctx, s.c, allocationsPath+"/cost-statistics", query{}.num("days", days))
}

// Reconciliation compares the ledger with the kubelet's assignments ("" namespace: all).
func (s *AllocationsService) Reconciliation(ctx context.Context, namespace string) (*Reconciliation, error) {
	return get[Reconciliation](ctx, s.c, allocationsPath+"/reconciliation", query{}.str("namespace", namespace))
}

// ---- metrics --------------------------------------------------------------------------------

// MetricsService: GPU metrics from Prometheus and the inventory sync (/gpu/metrics).
type MetricsService struct{ c *Client }

const metricsPath = "/gpu/metrics"

func windowQuery(opts *WindowOptions) query {
	q := query{}
	if opts != nil {
		q.num("hours", opts.Hours).num("page", opts.Page).num("size", opts.Size)
	}
	return q
}

// UsageStatistics returns per-GPU and per-model averages (percent, °C) over the window.
func (s *MetricsService) UsageStatistics(ctx context.Context, opts *WindowOptions) (*UsageStatistics, error) {
	out := &UsageStatistics{}
	r := request{method: http.MethodGet, path: metricsPath + "/usage-statistics", query: windowQuery(opts).values()}
	pagination, err := s.c.call(ctx, r, out)
	if err != nil {
		return nil, err
	}
	out.Pagination = pagination
	return out, nil
}

// OverheatingAlerts returns the windows in which a GPU was above its threshold, oldest first.
func (s *MetricsService) OverheatingAlerts(ctx context.Context, opts *WindowOptions) (*OverheatingAlerts, error) {
	out := &OverheatingAlerts{}
	r := request{method: http.MethodGet, path: metricsPath + "/overheating-alerts", query: windowQuery(opts).values()}
	pagination, err := s.c.call(ctx, r, out)
	if err != nil {
		return nil, err
	}
	out.Pagination = pagination
	return out, nil
}

// Collect syncs the inventory and MIG state with what the exporters report now (operator).
func (s *MetricsService) Collect(ctx context.Context) (*SyncResult, error) {
	return send[SyncResult](ctx, s.c, http.MethodPost, metricsPath+"/collect", nil, nil)
}

// CollectionStatus returns the last sync, the scrape targets and the exporters' freshness.
func (s *MetricsService) CollectionStatus(ctx context.Context) (*CollectionStatus, error) {
	return get[CollectionStatus](ctx, s.c, metricsPath+"/collection-status", nil)
}

// ---- cost -----------------------------------------------------------------------------------

// CostService: cost analysis and optimisation, the price book and budgets (/gpu/cost).
type CostService struct{ c *Client }

const costPath = "/gpu/cost"

// Analyze returns daily, weekly and monthly cost by namespace and team and the potential
// savings (USD) over the last days (0: the service's default, 30).
func (s *CostService) Analyze(ctx context.Context, days int) (*CostAnalysis, error) {
	return get[CostAnalysis](ctx, s.c, costPath+"/analysis", query{}.num("days", days))
}

// Optimization returns concrete suggestions with their evidence and monthly saving (USD).
func (s *CostService) Optimization(ctx context.Context, days int) (*CostOptimization, error) {
	return get[CostOptimization](ctx, s.c, costPath+"/optimization", query{}.num("days", days))
}

// Statistics returns allocation cost by team, namespace, user and model
// (/gpu/allocations/cost-statistics).
func (s *CostService) Statistics(ctx context.Context, days int) (*CostStatistics, error) {
	return get[CostStatistics](ctx, s.c, allocationsPath+"/cost-statistics", query{}.num("days", days))
}

// Prices returns each model's USD per GPU-hour with its source.
func (s *CostService) Prices(ctx context.Context) ([]ModelPrice, error) {
	return slice[ModelPrice](ctx, s.c, http.MethodGet, costPath+"/prices", nil)
}

// Price returns one model's price.
func (s *CostService) Price(ctx context.Context, modelID string) (*ModelPrice, error) {
	return get[ModelPrice](ctx, s.c, costPath+pathOf("prices", modelID), nil)
}

// SetPrice sets a model's price, USD per GPU-hour (admin); source may be "".
func (s *CostService) SetPrice(ctx context.Context, modelID string, pricePerHour float64, source string) (*ModelPrice, error) {
	body := struct {
		PricePerHour float64 `json:"pricePerHour"`
		Source       string  `json:"source,omitempty"`
	}{pricePerHour, source}
	return send[ModelPrice](ctx, s.c, http.MethodPut, costPath+pathOf("prices", modelID), nil, body)
}

// ResetPrice removes the price set through the API (admin).
func (s *CostService) ResetPrice(ctx context.Context, modelID string) (*ModelPrice, error) {
	return send[ModelPrice](ctx, s.c, http.MethodDelete, costPath+pathOf("prices", modelID), nil, nil)
}

// Budgets returns the budgets with their last projection.
func (s *CostService) Budgets(ctx context.Context) ([]Budget, error) {
	return slice[Budget](ctx, s.c, http.MethodGet, costPath+"/budgets", nil)
}

// Budget returns one budget.
func (s *CostService) Budget(ctx context.Context, budgetID string) (*Budget, error) {
	return get[Budget](ctx, s.c, costPath+pathOf("budgets", budgetID), nil)
}

// CreateBudget creates a monthly budget (admin).
func (s *CostService) CreateBudget(ctx context.Context, req *BudgetRequest) (*Budget, error) {
	return send[Budget](ctx, s.c, http.MethodPost, costPath+"/budgets", nil, req)
}

// UpdateBudget changes a budget's monthly amount (USD).
func (s *CostService) UpdateBudget(ctx context.Context, budgetID string, monthlyBudget float64) (*Budget, error) {
	body := map[string]float64{"monthlyBudget": monthlyBudget}
	return send[Budget](ctx, s.c, http.MethodPut, costPath+pathOf("budgets", budgetID), nil, body)
}

// DeleteBudget deletes a budget (admin) and returns it as it was.
func (s *CostService) DeleteBudget(ctx context.Context, budgetID string) (*Budget, error) {
	return send[Budget](ctx, s.c, http.MethodDelete, costPath+pathOf("budgets", budgetID), nil, nil)
}

// CheckBudgets evaluates every budget now (operator).
func (s *CostService) CheckBudgets(ctx context.Context) ([]Budget, error) {
	return slice[Budget](ctx, s.c, http.MethodPost, costPath+"/budgets/check", nil)
}

// ---- cluster --------------------------------------------------------------------------------

// ClusterService: the GPU cluster as a whole (/gpu/overview, /gpu/health, /gpu/forecast) and
// the service's actuator health.
type ClusterService struct{ c *Client }

// Overview returns counts, utilisation now, rental-equivalent cost (USD) and alerts.
func (s *ClusterService) Overview(ctx context.Context) (*GPUOverview, error) {
	return get[GPUOverview](ctx, s.c, "/gpu/overview", nil)
}

// Health returns the GPUs' health by verdict, with the unhealthy ones.
func (s *ClusterService) Health(ctx context.Context) (*GPUClusterHealth, error) {
	return get[GPUClusterHealth](ctx, s.c, "/gpu/health", nil)
}

// Forecast returns GPU utilisation, allocated GPUs and memory over the next hours (0: 24),
// with 80% and 95% intervals and capacity warnings.
func (s *ClusterService) Forecast(ctx context.Context, hours int) (*GPUForecast, error) {
	return get[GPUForecast](ctx, s.c, "/gpu/forecast", query{}.num("hours", hours))
}

// ServiceHealth returns the actuator health ({"status": "UP", "components": ...}, no envelope).
func (s *ClusterService) ServiceHealth(ctx context.Context) (map[string]any, error) {
	out := map[string]any{}
	if _, err := s.c.call(ctx, request{method: http.MethodGet, path: "/../actuator/health", raw: true}, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// ---- resources ------------------------------------------------------------------------------

// ResourcesService: pods, nodes and cluster usage from Prometheus (/resources).
type ResourcesService struct{ c *Client }

const resourcesPath = "/resources"

func podQuery(opts *PodListOptions) query {
	q := query{}
	if opts != nil {
		q.str("namespace", opts.Namespace).num("page", opts.Page).num("size", opts.Size)
	}
	return q
}

// Pods returns model-serving pods (vLLM, SGLang, ...) by namespace and name.
func (s *ResourcesService) Pods(ctx context.Context, opts *PodListOptions) (*Page[Pod], error) {
	return list[Pod](ctx, s.c, resourcesPath+"/pods", podQuery(opts))
}

// AllPods returns every pod by namespace and name.
func (s *ResourcesService) AllPods(ctx context.Context, opts *PodListOptions) (*Page[Pod], error) {
	return list[Pod](ctx, s.c, resourcesPath+"/pods/all", podQuery(opts))
}

// Pod returns one pod with its containers and GPUs.
func (s *ResourcesService) Pod(ctx context.Context, namespace, podName string) (*PodDetail, error) {
	return get[PodDetail](ctx, s.c, resourcesPath+pathOf("pods", namespace, podName), nil)
}

// TopPods returns the pods using the most "cpu" (cores), "memory" (GiB) or "gpu" (""
// and 0: the service's defaults, gpu and 10).
func (s *ResourcesService) TopPods(ctx context.Context, resourceType string, limit int) ([]TopPod, error) {
	q := query{}.str("resourceType", resourceType).num("limit", limit)
	return slice[TopPod](ctx, s.c, http.MethodGet, resourcesPath+"/pods/top", q)
}

// Nodes returns the nodes by name.
func (s *ResourcesService) Nodes(ctx context.Context, opts *PageOptions) (*Page[Node], error) {
	return list[Node](ctx, s.c, resourcesPath+"/nodes", opts.query())
}

// Node returns one node with its GPUs and pods.
func (s *ResourcesService) Node(ctx context.Context, nodeName string) (*NodeDetail, error) {
	return get[NodeDetail](ctx, s.c, resourcesPath+pathOf("nodes", nodeName), nil)
}

// Usage returns pods, nodes and the cluster summary ("" namespace: all).
func (s *ResourcesService) Usage(ctx context.Context, namespace string) (*ClusterUsage, error) {
	return get[ClusterUsage](ctx, s.c, resourcesPath+"/usage", query{}.str("namespace", namespace))
}

// Namespaces returns usage per namespace by name.
func (s *ResourcesService) Namespaces(ctx context.Context, opts *PageOptions) (*Page[NamespaceUsage], error) {
	return list[NamespaceUsage](ctx, s.c, resourcesPath+"/namespaces", opts.query())
}

// Statistics returns average, peak and current usage over the last hours (0: 24).
func (s *ResourcesService) Statistics(ctx context.Context, hours int) (*ClusterStatistics, error) {
	return get[ClusterStatistics](ctx, s.c, resourcesPath+"/statistics", query{}.num("hours", hours))
}

// Health returns node, pod and exporter health with the issues found.
func (s *ResourcesService) Health(ctx context.Context) (*ClusterHealth, error) {
	return get[ClusterHealth](ctx, s.c, resourcesPath+"/health", nil)
}

// Alerts returns firing alerts and the service's checks, most severe first.
func (s *ResourcesService) Alerts(ctx context.Context, opts *AlertListOptions) (*Page[ResourceAlert], error) {
	q := query{}
	if opts != nil {
		q.str("severity", opts.Severity).str("source", opts.Source).num("page", opts.Page).num("size", opts.Size)
	}
	return list[ResourceAlert](ctx, s.c, resourcesPath+"/alerts", q)
}

// Forecast returns CPU, memory and GPU usage over the next hours (0: 24).
func (s *ResourcesService) Forecast(ctx context.Context, hours int) (*ResourceForecast, error) {
	return get[ResourceForecast](ctx, s.c, resourcesPath+"/forecast", query{}.num("hours", hours))
}

// MetricsStatus returns Prometheus' reachability, scrape jobs and metric sources.
func (s *ResourcesService) MetricsStatus(ctx context.Context) (*MetricsStatus, error) {
	return get[MetricsStatus](ctx, s.c, resourcesPath+"/metrics/status", nil)
}

// ---- webhooks -------------------------------------------------------------------------------

// WebhooksService: event webhooks (/webhooks, seed 5.1), their delivery log, and the receiver
// that turns Alertmanager notifications into webhook events.
type WebhooksService struct{ c *Client }

const webhooksPath = "/webhooks"

// Create registers a webhook; its deliveries are signed with req.Secret (see VerifyWebhook).
func (s *WebhooksService) Create(ctx context.Context, req *WebhookRequest) (*Webhook, error) {
	return send[Webhook](ctx, s.c, http.MethodPost, webhooksPath, nil, req)
}

// List returns the webhooks (never their secrets).
func (s *WebhooksService) List(ctx context.Context) ([]Webhook, error) {
	return slice[Webhook](ctx, s.c, http.MethodGet, webhooksPath, nil)
}

// Get returns one webhook.
func (s *WebhooksService) Get(ctx context.Context, webhookID string) (*Webhook, error) {
	return get[Webhook](ctx, s.c, webhooksPath+pathOf(webhookID), nil)
}

// Update changes some fields, e.g. Active: gpuclient.Bool(false) to pause it.
func (s *WebhooksService) Update(ctx context.Context, webhookID string, update *WebhookUpdate) (*Webhook, error) {
	return send[Webhook](ctx, s.c, http.MethodPatch, webhooksPath+pathOf(webhookID), nil, update)
}

// Delete deletes a webhook with its queued deliveries and log; returns it as it was.
func (s *WebhooksService) Delete(ctx context.Context, webhookID string) (*Webhook, error) {
	return send[Webhook](ctx, s.c, http.MethodDelete, webhooksPath+pathOf(webhookID), nil, nil)
}

// Test queues a signed WEBHOOK_TEST delivery to this webhook alone (INVALID_PARAMETER when it
// is paused).
func (s *WebhooksService) Test(ctx context.Context, webhookID string) (*WebhookTestEvent, error) {
	return send[WebhookTestEvent](ctx, s.c, http.MethodPost, webhooksPath+pathOf(webhookID, "test"), nil, nil)
}

// Deliveries returns the delivery log, newest first, with each delivery's attempts.
func (s *WebhooksService) Deliveries(ctx context.Context, webhookID string, opts *DeliveryListOptions) ([]WebhookDelivery, error) {
	q := query{}
	if opts != nil {
		q.num("limit", opts.Limit).str("status", opts.Status)
	}
	return slice[WebhookDelivery](ctx, s.c, http.MethodGet, webhooksPath+pathOf(webhookID, "deliveries"), q)
}

// ReceiveAlertmanager posts an Alertmanager webhook notification (version 4) to the service,
// as Alertmanager itself does (/alerts/alertmanager).
func (s *WebhooksService) ReceiveAlertmanager(ctx context.Context, notification any) (*Receipt, error) {
	return send[Receipt](ctx, s.c, http.MethodPost, "/alerts/alertmanager", nil, notification)
}

// ---- batch ----------------------------------------------------------------------------------

// BatchService: many allocations in one call, metrics collection for a list of nodes (/batch).
type BatchService struct{ c *Client }

// Allocations makes up to 100 allocations, all or none (the error's context names the index of
// the first that failed).
func (s *BatchService) Allocations(ctx context.Context, requests []AllocationRequest) (*BatchAllocationResult, error) {
	body := map[string][]AllocationRequest{"allocations": requests}
	return send[BatchAllocationResult](ctx, s.c, http.MethodPost, "/batch/allocations", nil, body)
}

// CollectMetrics syncs these nodes, then returns their GPU and node averages over the range.
func (s *BatchService) CollectMetrics(ctx context.Context, req *MetricsCollectRequest) (*BatchMetricsCollectResult, error) {
	return send[BatchMetricsCollectResult](ctx, s.c, http.MethodPost, "/batch/metrics/collect", nil, req)
}

// ---- accounts -------------------------------------------------------------------------------

// IssueToken exchanges the client's credentials (a user's password, or an API key) for a
// short-lived Bearer token (POST /auth/token); give its AccessToken as Config.APIKey of another
// client. A service without a signing key answers 404 RESOURCE_NOT_FOUND.
func (c *Client) IssueToken(ctx context.Context) (*Token, error) {
	return send[Token](ctx, c, http.MethodPost, "/auth/token", nil, nil)
}

// UsersService: accounts (/users, docs/auth.md); an admin's, but for a user's own password.
type UsersService struct{ c *Client }

const usersPath = "/users"

// List returns every account (never a password).
func (s *UsersService) List(ctx context.Context) ([]User, error) {
	return slice[User](ctx, s.c, http.MethodGet, usersPath, nil)
}

// Create makes an account; a taken name is 409 RESOURCE_ALREADY_EXISTS.
func (s *UsersService) Create(ctx context.Context, req *UserRequest) (*User, error) {
	return send[User](ctx, s.c, http.MethodPost, usersPath, nil, req)
}

// Get returns one account.
func (s *UsersService) Get(ctx context.Context, username string) (*User, error) {
	return get[User](ctx, s.c, usersPath+pathOf(username), nil)
}

// Update changes role, team or the disabled flag.
func (s *UsersService) Update(ctx context.Context, username string, update *UserUpdate) (*User, error) {
	return send[User](ctx, s.c, http.MethodPatch, usersPath+pathOf(username), nil, update)
}

// SetPassword sets a new password (req.CurrentPassword when users change their own).
func (s *UsersService) SetPassword(ctx context.Context, username string, req *PasswordRequest) (*User, error) {
	return send[User](ctx, s.c, http.MethodPut, usersPath+pathOf(username, "password"), nil, req)
}

// APIKeysService: API keys (/api-keys, docs/auth.md).
type APIKeysService struct{ c *Client }

const apiKeysPath = "/api-keys"

// List returns the keys (never the secrets), revoked ones included; username "" means all.
func (s *APIKeysService) List(ctx context.Context, username string) ([]APIKey, error) {
	return slice[APIKey](ctx, s.c, http.MethodGet, apiKeysPath, query{}.str("username", username))
}

// Create makes a key; its Key is in this answer only.
func (s *APIKeysService) Create(ctx context.Context, req *APIKeyRequest) (*NewAPIKey, error) {
	return send[NewAPIKey](ctx, s.c, http.MethodPost, apiKeysPath, nil, req)
}

// Revoke revokes a key at once, with the tokens issued for it; returns it with its RevokedAt.
func (s *APIKeysService) Revoke(ctx context.Context, keyID string) (*APIKey, error) {
	return send[APIKey](ctx, s.c, http.MethodDelete, apiKeysPath+pathOf(keyID), nil, nil)
}
