package gpuclient

// The request bodies and list options of the API, and the page of a fleet-wide list.

import (
	"encoding/json"
	"time"
)

// Pagination is the envelope's pagination member of a paged answer.
type Pagination struct {
	Page          int `json:"page"`
	Size          int `json:"size"`
	TotalElements int `json:"totalElements"`
	TotalPages    int `json:"totalPages"`
}

// Page holds the rows of a fleet-wide list: all of them, or the page the options asked for
// (then Pagination says how many there are in all).
type Page[T any] struct {
	Items      []T
	Pagination *Pagination
}

// TotalElements is the service's count of rows, or len(Items) for a whole list.
func (p *Page[T]) TotalElements() int {
	if p.Pagination != nil {
		return p.Pagination.TotalElements
	}
	return len(p.Items)
}

// PageOptions asks for one page of a list: Page from 1, Size rows (0: the whole list).
type PageOptions struct {
	Page int
	Size int
}

func (o *PageOptions) query() query {
	q := query{}
	if o != nil {
		q.num("page", o.Page).num("size", o.Size)
	}
	return q
}

// AllocationRequest is the body of POST /gpu/allocations (seed 2.3): memory in GB, cost in USD
// per hour. Zero values are left out (the service's defaults apply: UseMIG false, no limit).
type AllocationRequest struct {
	Namespace          string     `json:"namespace"`
	PodName            string     `json:"podName"`
	ContainerName      string     `json:"containerName,omitempty"`
	WorkloadType       string     `json:"workloadType,omitempty"`
	UseMIG             bool       `json:"useMig,omitempty"`
	RequiredMemoryGB   float64    `json:"requiredMemoryGb"`
	PreferredModelID   string     `json:"preferredModelId,omitempty"`
	PlannedReleaseTime *time.Time `json:"plannedReleaseTime,omitempty"`
	UserID             string     `json:"userId,omitempty"`
	TeamID             string     `json:"teamId,omitempty"`
	ProjectID          string     `json:"projectId,omitempty"`
	MaxCostPerHour     float64    `json:"maxCostPerHour,omitempty"`
}

// MarshalJSON writes PlannedReleaseTime as the service expects (UTC seconds with Z).
func (r AllocationRequest) MarshalJSON() ([]byte, error) {
	type plain AllocationRequest
	out := struct {
		plain
		PlannedReleaseTime *Time `json:"plannedReleaseTime,omitempty"`
	}{plain: plain(r)}
	if r.PlannedReleaseTime != nil {
		out.PlannedReleaseTime = &Time{*r.PlannedReleaseTime}
	}
	return json.Marshal(out)
}

// AllocationListOptions filters GET /gpu/allocations. Status: ALLOCATED (the default),
// RELEASED, EXPIRED or ALL.
type AllocationListOptions struct {
	Namespace string
	UserID    string
	TeamID    string
	Status    string
	Page      int
	Size      int
}

// ExpiringOptions: live allocations whose planned release falls within the next Hours (24 when 0).
type ExpiringOptions struct {
	Hours int
	Page  int
	Size  int
}

// DeviceListOptions filters GET /gpu/devices by node, model or status (available, active,
// maintenance, or an exact status).
type DeviceListOptions struct {
	NodeName string
	ModelID  string
	Status   string
	Page     int
	Size     int
}

// DeviceRegistration is the body of POST /gpu/devices: purchase cost in USD.
type DeviceRegistration struct {
	NodeName           string     `json:"nodeName"`
	ModelID            string     `json:"modelId"`
	DeviceIndex        int        `json:"deviceIndex"`
	SerialNumber       string     `json:"serialNumber,omitempty"`
	PCIAddress         string     `json:"pciAddress,omitempty"`
	GPUUUID            string     `json:"gpuUuid,omitempty"`
	DriverVersion      string     `json:"driverVersion,omitempty"`
	FirmwareVersion    string     `json:"firmwareVersion,omitempty"`
	PurchaseCost       *float64   `json:"purchaseCost,omitempty"`
	PurchaseDate       *time.Time `json:"purchaseDate,omitempty"`
	WarrantyExpiryDate *time.Time `json:"warrantyExpiryDate,omitempty"`
	Status             string     `json:"status,omitempty"`
}

// MarshalJSON writes the dates as the service expects (UTC seconds with Z).
func (r DeviceRegistration) MarshalJSON() ([]byte, error) {
	type plain DeviceRegistration
	out := struct {
		plain
		PurchaseDate       *Time `json:"purchaseDate,omitempty"`
		WarrantyExpiryDate *Time `json:"warrantyExpiryDate,omitempty"`
	}{plain: plain(r)}
	if r.PurchaseDate != nil {
		out.PurchaseDate = &Time{*r.PurchaseDate}
	}
	if r.WarrantyExpiryDate != nil {
		out.WarrantyExpiryDate = &Time{*r.WarrantyExpiryDate}
	}
	return json.Marshal(out)
}

// WindowOptions: a window of Hours back from now (the service's default, 24, when 0), and
// optionally one page of its per-GPU rows.
type WindowOptions struct {
	Hours int
	Page  int
	Size  int
}

// PodListOptions filters the pod lists of /resources by namespace.
type PodListOptions struct {
	Namespace string
	Page      int
	Size      int
}

// AlertListOptions filters GET /resources/alerts.
type AlertListOptions struct {
	Severity string
	Source   string
	Page     int
	Size     int
}

// BudgetRequest is the body of POST /gpu/cost/budgets: a monthly budget (USD) for a "team" or
// "namespace" scope.
type BudgetRequest struct {
	Scope         string  `json:"scope"`
	Name          string  `json:"name"`
	MonthlyBudget float64 `json:"monthlyBudget"`
}

// WebhookRequest is the body of POST /webhooks. Deliveries are signed with Secret (see
// VerifyWebhook); Active defaults to true.
type WebhookRequest struct {
	Name   string   `json:"name"`
	URL    string   `json:"url"`
	Events []string `json:"events"`
	Secret string   `json:"secret,omitempty"`
	Active *bool    `json:"active,omitempty"`
}

// WebhookUpdate is the body of PATCH /webhooks/{id}: nil fields are left as they are.
type WebhookUpdate struct {
	Name   *string  `json:"name,omitempty"`
	URL    *string  `json:"url,omitempty"`
	Events []string `json:"events,omitempty"`
	Secret *string  `json:"secret,omitempty"`
	Active *bool    `json:"active,omitempty"`
}

// DeliveryListOptions filters a webhook's delivery log.
type DeliveryListOptions struct {
	Limit  int
	Status string
}

// MetricsCollectRequest is the body of POST /batch/metrics/collect: TimeRange 1h, 24h or 7d.
type MetricsCollectRequest struct {
	Nodes              []string `json:"nodes"`
	CollectGPUMetrics  *bool    `json:"collectGpuMetrics,omitempty"`
	CollectNodeMetrics *bool    `json:"collectNodeMetrics,omitempty"`
	TimeRange          string   `json:"timeRange,omitempty"`
}

// UserRequest is the body of POST /users: Role is viewer, operator or admin; Password 12-1024
// characters; Team may be empty.
type UserRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Role     string `json:"role"`
	Team     string `json:"team,omitempty"`
}

// UserUpdate is the body of PATCH /users/{username}: nil fields are left as they are; a Team
// of "" clears it; Disabled true locks the account out (its password, keys and tokens).
type UserUpdate struct {
	Disabled *bool   `json:"disabled,omitempty"`
	Role     *string `json:"role,omitempty"`
	Team     *string `json:"team,omitempty"`
}

// PasswordRequest is the body of PUT /users/{username}/password; users changing their own
// password give the current one.
type PasswordRequest struct {
	Password        string `json:"password"`
	CurrentPassword string `json:"currentPassword,omitempty"`
}

// APIKeyRequest is the body of POST /api-keys: Role at most its user's; Username defaults to
// the caller and is required when the caller is no user (the settings' admin key).
type APIKeyRequest struct {
	Role     string `json:"role"`
	Name     string `json:"name,omitempty"`
	Username string `json:"username,omitempty"`
}
