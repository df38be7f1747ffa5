// The API's results, field for field the Python SDK's models (k8s_gpu_client/models) with the
// API's JSON keys: strings plain ("" when absent), numbers, booleans, times and nested objects as
// pointers (nil when the service sent null or nothing). TestLiveEveryReadDecodesIntoTheModels
// decodes every read of the live service with unknown fields refused.

package gpuclient

// ---- devices ----
// Device: a GPU of the inventory (GET /gpu/devices), with live temperature, power and utilisation.
type Device struct {
	DeviceID                 string   `json:"deviceId,omitempty"`
	NodeName                 string   `json:"nodeName,omitempty"`
	ModelID                  string   `json:"modelId,omitempty"`
	ModelName                string   `json:"modelName,omitempty"`
	DeviceIndex              *int     `json:"deviceIndex,omitempty"`
	DeviceStatus             string   `json:"deviceStatus,omitempty"`
	CurrentTempC             *float64 `json:"currentTempC,omitempty"`
	CurrentPowerW            *float64 `json:"currentPowerW,omitempty"`
	CurrentUtilization       *float64 `json:"currentUtilization,omitempty"`
	MemoryGB                 *float64 `json:"memoryGb,omitempty"`
	Architecture             string   `json:"architecture,omitempty"`
	MIGSupport               *bool    `json:"migSupport,omitempty"`
	Allocated                *bool    `json:"allocated,omitempty"`
	MIGInstanceCount         *int     `json:"migInstanceCount,omitempty"`
	SerialNumber             string   `json:"serialNumber,omitempty"`
	PCIAddress               string   `json:"pciAddress,omitempty"`
	GPUUUID                  string   `json:"gpuUuid,omitempty"`
	DriverVersion            string   `json:"driverVersion,omitempty"`
	FirmwareVersion          string   `json:"firmwareVersion,omitempty"`
	PurchaseCost             *float64 `json:"purchaseCost,omitempty"`
	PurchaseDate             *Time    `json:"purchaseDate,omitempty"`
	WarrantyExpiryDate       *Time    `json:"warrantyExpiryDate,omitempty"`
	PricePerHour             *float64 `json:"pricePerHour,omitempty"`
	Source                   string   `json:"source,omitempty"`
	RegisteredAt             *Time    `json:"registeredAt,omitempty"`
	UpdatedAt                *Time    `json:"updatedAt,omitempty"`
	Presence                 string   `json:"presence,omitempty"`
	LastSeenAt               *Time    `json:"lastSeenAt,omitempty"`
	ProductName              string   `json:"productName,omitempty"`
	MetricsAvailable         *bool    `json:"metricsAvailable,omitempty"`
	MetricsUnavailableReason string   `json:"metricsUnavailableReason,omitempty"`
}

// DeviceStatistics: GPU counts by model, node and status, and the allocation rate (percent).
type DeviceStatistics struct {
	TotalDevices      *int           `json:"totalDevices,omitempty"`
	DevicesByModel    map[string]int `json:"devicesByModel,omitempty"`
	DevicesByNode     map[string]int `json:"devicesByNode,omitempty"`
	DevicesByStatus   map[string]int `json:"devicesByStatus,omitempty"`
	AllocatedDevices  *int           `json:"allocatedDevices,omitempty"`
	AvailableDevices  *int           `json:"availableDevices,omitempty"`
	MIGEnabledDevices *int           `json:"migEnabledDevices,omitempty"`
	AllocationRate    *float64       `json:"allocationRate,omitempty"`
}

// OverheatingDevice: a GPU now above its model's temperature threshold (°C).
type OverheatingDevice struct {
	DeviceID     string   `json:"deviceId,omitempty"`
	NodeName     string   `json:"nodeName,omitempty"`
	ModelID      string   `json:"modelId,omitempty"`
	ModelName    string   `json:"modelName,omitempty"`
	CurrentTempC *float64 `json:"currentTempC,omitempty"`
	ThresholdC   *float64 `json:"thresholdC,omitempty"`
	ExcessC      *float64 `json:"excessC,omitempty"`
	Severity     string   `json:"severity,omitempty"`
	MeasuredAt   *Time    `json:"measuredAt,omitempty"`
}

// GPUHealthReason: one finding behind a health verdict (code, severity, value, threshold).
type GPUHealthReason struct {
	Code      string   `json:"code,omitempty"`
	Severity  string   `json:"severity,omitempty"`
	Message   string   `json:"message,omitempty"`
	Value     *float64 `json:"value,omitempty"`
	Threshold *float64 `json:"threshold,omitempty"`
	XID       *int     `json:"xid,omitempty"`
	Count     *int     `json:"count,omitempty"`
}

// DeviceHealth: Health verdict of one GPU: HEALTHY, WARNING or CRITICAL, with its reasons.
type DeviceHealth struct {
	DeviceID       string            `json:"deviceId,omitempty"`
	NodeName       string            `json:"nodeName,omitempty"`
	ModelID        string            `json:"modelId,omitempty"`
	Status         string            `json:"status,omitempty"`
	Reasons        []GPUHealthReason `json:"reasons,omitempty"`
	TemperatureC   *float64          `json:"temperatureC,omitempty"`
	ThresholdC     *float64          `json:"thresholdC,omitempty"`
	XIDCounts      map[string]int    `json:"xidCounts,omitempty"`
	XIDWindowHours *int              `json:"xidWindowHours,omitempty"`
	CheckedAt      *Time             `json:"checkedAt,omitempty"`
}

// ---- mig ----
// MIGInstance: a MIG instance: profile, memory (GB), placement, state and allocation.
type MIGInstance struct {
	InstanceID    string   `json:"instanceId,omitempty"`
	DeviceID      string   `json:"deviceId,omitempty"`
	NodeName      string   `json:"nodeName,omitempty"`
	ModelID       string   `json:"modelId,omitempty"`
	Profile       string   `json:"profile,omitempty"`
	MemoryGB      *float64 `json:"memoryGb,omitempty"`
	ComputeSlices *int     `json:"computeSlices,omitempty"`
	MemorySlices  *int     `json:"memorySlices,omitempty"`
	StartSlice    *int     `json:"startSlice,omitempty"`
	State         string   `json:"state,omitempty"`
	Desired       *bool    `json:"desired,omitempty"`
	Observed      *bool    `json:"observed,omitempty"`
	MIGUUID       string   `json:"migUuid,omitempty"`
	Allocated     *bool    `json:"allocated,omitempty"`
	AllocationID  string   `json:"allocationId,omitempty"`
	ResourceName  string   `json:"resourceName,omitempty"`
	CostPerHour   *float64 `json:"costPerHour,omitempty"`
	CreatedAt     *Time    `json:"createdAt,omitempty"`
}

// MIGDrift: Instance ids where the desired and observed layouts differ.
type MIGDrift struct {
	Pending   []string `json:"pending,omitempty"`
	Unmanaged []string `json:"unmanaged,omitempty"`
	Retiring  []string `json:"retiring,omitempty"`
}

// MIGConfig: How to apply a layout: the nvidia.com/mig.config label and a mig-parted config.
type MIGConfig struct {
	LabelKey        string `json:"labelKey,omitempty"`
	LabelValue      string `json:"labelValue,omitempty"`
	MIGPartedConfig string `json:"migPartedConfig,omitempty"`
}

// MIGLayout: a GPU's MIG layout, desired and observed side by side.
type MIGLayout struct {
	DeviceID              string        `json:"deviceId,omitempty"`
	NodeName              string        `json:"nodeName,omitempty"`
	DeviceIndex           *int          `json:"deviceIndex,omitempty"`
	ModelID               string        `json:"modelId,omitempty"`
	DeviceStatus          string        `json:"deviceStatus,omitempty"`
	Instances             []MIGInstance `json:"instances,omitempty"`
	PendingInstances      *int          `json:"pendingInstances,omitempty"`
	FreeMemorySlices      []int         `json:"freeMemorySlices,omitempty"`
	StrandedMemorySlices  []int         `json:"strandedMemorySlices,omitempty"`
	StrandedComputeSlices *int          `json:"strandedComputeSlices,omitempty"`
	DesiredLayout         []string      `json:"desiredLayout,omitempty"`
	ObservedLayout        []string      `json:"observedLayout,omitempty"`
	InSync                *bool         `json:"inSync,omitempty"`
	Drift                 *MIGDrift     `json:"drift,omitempty"`
	MIGConfig             *MIGConfig    `json:"migConfig,omitempty"`
}

// MIGStatistics: MIG usage statistics: instances by profile and state, allocation rates.
type MIGStatistics struct {
	TotalInstances           *int                      `json:"totalInstances,omitempty"`
	AllocatedInstances       *int                      `json:"allocatedInstances,omitempty"`
	FreeInstances            *int                      `json:"freeInstances,omitempty"`
	PendingInstances         *int                      `json:"pendingInstances,omitempty"`
	MIGEnabledDevices        *int                      `json:"migEnabledDevices,omitempty"`
	InstancesByProfile       map[string]map[string]int `json:"instancesByProfile,omitempty"`
	InstancesByState         map[string]int            `json:"instancesByState,omitempty"`
	DevicesWithDrift         []string                  `json:"devicesWithDrift,omitempty"`
	AllocationRate           *float64                  `json:"allocationRate,omitempty"`
	MemoryAllocationRate     *float64                  `json:"memoryAllocationRate,omitempty"`
	InstancesReporting       *int                      `json:"instancesReporting,omitempty"`
	Utilization              *float64                  `json:"utilization,omitempty"`
	UtilizationSource        string                    `json:"utilizationSource,omitempty"`
	MemoryUsedGB             *float64                  `json:"memoryUsedGb,omitempty"`
	MemoryTotalGB            *float64                  `json:"memoryTotalGb,omitempty"`
	MemoryUtilization        *float64                  `json:"memoryUtilization,omitempty"`
	MetricsAvailable         *bool                     `json:"metricsAvailable,omitempty"`
	MetricsUnavailableReason string                    `json:"metricsUnavailableReason,omitempty"`
}

// ---- allocations ----
// KubernetesRequest: How to request an allocated resource in the pod spec.
type KubernetesRequest struct {
	NodeSelector  map[string]string `json:"nodeSelector,omitempty"`
	ResourceName  string            `json:"resourceName,omitempty"`
	ResourceCount *int              `json:"resourceCount,omitempty"`
	Ready         *bool             `json:"ready,omitempty"`
	Note          string            `json:"note,omitempty"`
}

// HistoryEntry: one status change of an allocation.
type HistoryEntry struct {
	Status string `json:"status,omitempty"`
	At     *Time  `json:"at,omitempty"`
	Actor  string `json:"actor,omitempty"`
}

// Allocation: an allocation of the ledger: the seed's fields plus device, price and Kubernetes hints.
type Allocation struct {
	AllocationID       string             `json:"allocationId,omitempty"`
	Namespace          string             `json:"namespace,omitempty"`
	PodName            string             `json:"podName,omitempty"`
	ContainerName      string             `json:"containerName,omitempty"`
	WorkloadType       string             `json:"workloadType,omitempty"`
	ResourceType       string             `json:"resourceType,omitempty"`
	AllocatedResource  string             `json:"allocatedResource,omitempty"`
	DeviceID           string             `json:"deviceId,omitempty"`
	NodeName           string             `json:"nodeName,omitempty"`
	ModelID            string             `json:"modelId,omitempty"`
	MIGProfile         string             `json:"migProfile,omitempty"`
	RequiredMemoryGB   *float64           `json:"requiredMemoryGb,omitempty"`
	AllocatedMemoryGB  *float64           `json:"allocatedMemoryGb,omitempty"`
	AllocationTime     *Time              `json:"allocationTime,omitempty"`
	PlannedReleaseTime *Time              `json:"plannedReleaseTime,omitempty"`
	ReleaseTime        *Time              `json:"releaseTime,omitempty"`
	Status             string             `json:"status,omitempty"`
	CostPerHour        *float64           `json:"costPerHour,omitempty"`
	CostAccrued        *float64           `json:"costAccrued,omitempty"`
	MaxCostPerHour     *float64           `json:"maxCostPerHour,omitempty"`
	UserID             string             `json:"userId,omitempty"`
	TeamID             string             `json:"teamId,omitempty"`
	ProjectID          string             `json:"projectId,omitempty"`
	BatchID            string             `json:"batchId,omitempty"`
	ResourceState      string             `json:"resourceState,omitempty"`
	Kubernetes         *KubernetesRequest `json:"kubernetes,omitempty"`
	History            []HistoryEntry     `json:"history,omitempty"`
}

// CostStatistics: Allocation cost (USD) by team, namespace, user and model.
type CostStatistics struct {
	WindowDays               *int               `json:"windowDays,omitempty"`
	Since                    *Time              `json:"since,omitempty"`
	Until                    *Time              `json:"until,omitempty"`
	TotalCost                *float64           `json:"totalCost,omitempty"`
	TotalAllocations         *int               `json:"totalAllocations,omitempty"`
	ActiveAllocations        *int               `json:"activeAllocations,omitempty"`
	CurrentHourlyCost        *float64           `json:"currentHourlyCost,omitempty"`
	AllocatedHours           *float64           `json:"allocatedHours,omitempty"`
	AverageCostPerAllocation *float64           `json:"averageCostPerAllocation,omitempty"`
	CostByTeam               map[string]float64 `json:"costByTeam,omitempty"`
	CostByNamespace          map[string]float64 `json:"costByNamespace,omitempty"`
	CostByUser               map[string]float64 `json:"costByUser,omitempty"`
	CostByModel              map[string]float64 `json:"costByModel,omitempty"`
}

// PodHolding: a GPU or MIG device a pod holds according to the kubelet.
type PodHolding struct {
	Container     string `json:"container,omitempty"`
	NodeName      string `json:"nodeName,omitempty"`
	DeviceID      string `json:"deviceId,omitempty"`
	MIGInstanceID string `json:"migInstanceId,omitempty"`
	GPUUUID       string `json:"gpuUuid,omitempty"`
	MIGUUID       string `json:"migUuid,omitempty"`
	Resource      string `json:"resource,omitempty"`
	Sharing       string `json:"sharing,omitempty"`
}

// MismatchedAllocation: a live allocation whose pod does not hold what it reserved.
type MismatchedAllocation struct {
	AllocationID           string       `json:"allocationId,omitempty"`
	Namespace              string       `json:"namespace,omitempty"`
	PodName                string       `json:"podName,omitempty"`
	ResourceType           string       `json:"resourceType,omitempty"`
	AllocatedResource      string       `json:"allocatedResource,omitempty"`
	DeviceID               string       `json:"deviceId,omitempty"`
	ExpectedUUID           string       `json:"expectedUuid,omitempty"`
	State                  string       `json:"state,omitempty"`
	PodHolds               []PodHolding `json:"podHolds,omitempty"`
	ReservedResourceHeldBy []string     `json:"reservedResourceHeldBy,omitempty"`
}

// UnallocatedPod: a pod holding GPUs without a live allocation.
type UnallocatedPod struct {
	Namespace string       `json:"namespace,omitempty"`
	PodName   string       `json:"podName,omitempty"`
	NodeName  string       `json:"nodeName,omitempty"`
	Holdings  []PodHolding `json:"holdings,omitempty"`
}

// Reconciliation: the ledger compared with the kubelet's assignments.
type Reconciliation struct {
	CheckedAt                *Time                  `json:"checkedAt,omitempty"`
	Namespace                string                 `json:"namespace,omitempty"`
	ActiveAllocations        *int                   `json:"activeAllocations,omitempty"`
	MatchedAllocations       *int                   `json:"matchedAllocations,omitempty"`
	MismatchedAllocations    *int                   `json:"mismatchedAllocations,omitempty"`
	PodsHoldingGPUs          *int                   `json:"podsHoldingGpus,omitempty"`
	UnallocatedPodCount      *int                   `json:"unallocatedPodCount,omitempty"`
	Matched                  []string               `json:"matched,omitempty"`
	Mismatched               []MismatchedAllocation `json:"mismatched,omitempty"`
	UnallocatedPods          []UnallocatedPod       `json:"unallocatedPods,omitempty"`
	MetricsAvailable         *bool                  `json:"metricsAvailable,omitempty"`
	MetricsUnavailableReason string                 `json:"metricsUnavailableReason,omitempty"`
}

// ---- metrics ----
// ModelUsage: Per-model averages over the window (percent, °C).
type ModelUsage struct {
	DeviceCount          *int     `json:"deviceCount,omitempty"`
	AvgGPUUtilization    *float64 `json:"avgGpuUtilization,omitempty"`
	AvgMemoryUtilization *float64 `json:"avgMemoryUtilization,omitempty"`
	AvgTemperature       *float64 `json:"avgTemperature,omitempty"`
}

// DeviceUsage: Per-device averages over the window (percent, °C).
type DeviceUsage struct {
	ModelID              string   `json:"modelId,omitempty"`
	ModelName            string   `json:"modelName,omitempty"`
	NodeName             string   `json:"nodeName,omitempty"`
	AvgGPUUtilization    *float64 `json:"avgGpuUtilization,omitempty"`
	UtilizationSource    string   `json:"utilizationSource,omitempty"`
	AvgMemoryUtilization *float64 `json:"avgMemoryUtilization,omitempty"`
	AvgTemperature       *float64 `json:"avgTemperature,omitempty"`
}

// UsageStatistics: GET /gpu/metrics/usage-statistics: per-device and per-model averages (with page and
type UsageStatistics struct {
	TimeRange        string                 `json:"timeRange,omitempty"`
	WindowStart      *Time                  `json:"windowStart,omitempty"`
	WindowEnd        *Time                  `json:"windowEnd,omitempty"`
	Source           string                 `json:"source,omitempty"`
	DeviceStatistics map[string]DeviceUsage `json:"deviceStatistics,omitempty"`
	ModelStatistics  map[string]ModelUsage  `json:"modelStatistics,omitempty"`
	// Pagination is set when a page was asked for (from the envelope, beside data).
	Pagination *Pagination `json:"-"`
}

// OverheatingAlert: a window in which a GPU was above its model's threshold.
type OverheatingAlert struct {
	DeviceID        string   `json:"deviceId,omitempty"`
	NodeName        string   `json:"nodeName,omitempty"`
	ModelID         string   `json:"modelId,omitempty"`
	Start           *Time    `json:"start,omitempty"`
	End             *Time    `json:"end,omitempty"`
	DurationMinutes *float64 `json:"durationMinutes,omitempty"`
	PeakTemperature *float64 `json:"peakTemperature,omitempty"`
	Threshold       *float64 `json:"threshold,omitempty"`
	Ongoing         *bool    `json:"ongoing,omitempty"`
	Severity        string   `json:"severity,omitempty"`
}

// OverheatingAlerts: GET /gpu/metrics/overheating-alerts (with page and size, alerts holds one page;
type OverheatingAlerts struct {
	TimeRange       string             `json:"timeRange,omitempty"`
	WindowStart     *Time              `json:"windowStart,omitempty"`
	WindowEnd       *Time              `json:"windowEnd,omitempty"`
	TotalAlerts     *int               `json:"totalAlerts,omitempty"`
	AffectedDevices *int               `json:"affectedDevices,omitempty"`
	Alerts          []OverheatingAlert `json:"alerts,omitempty"`
	// Pagination is set when a page was asked for (from the envelope, beside data).
	Pagination *Pagination `json:"-"`
}

// UpdatedDevice: a device whose identity fields the inventory sync changed.
type UpdatedDevice struct {
	DeviceID string   `json:"deviceId,omitempty"`
	Fields   []string `json:"fields,omitempty"`
}

// UnrecognizedGPU: a GPU the catalogue does not know (not registered).
type UnrecognizedGPU struct {
	NodeName    string `json:"nodeName,omitempty"`
	DeviceIndex *int   `json:"deviceIndex,omitempty"`
	GPUUUID     string `json:"gpuUuid,omitempty"`
	ProductName string `json:"productName,omitempty"`
}

// SyncResult: the result of one inventory sync (POST /gpu/metrics/collect).
type SyncResult struct {
	Trigger         string            `json:"trigger,omitempty"`
	StartedAt       *Time             `json:"startedAt,omitempty"`
	FinishedAt      *Time             `json:"finishedAt,omitempty"`
	Status          string            `json:"status,omitempty"`
	Error           string            `json:"error,omitempty"`
	Nodes           []string          `json:"nodes,omitempty"`
	NodesReported   []string          `json:"nodesReported,omitempty"`
	DevicesReported *int              `json:"devicesReported,omitempty"`
	Added           []string          `json:"added,omitempty"`
	Updated         []UpdatedDevice   `json:"updated,omitempty"`
	Lost            []string          `json:"lost,omitempty"`
	Missing         []string          `json:"missing,omitempty"`
	Restored        []string          `json:"restored,omitempty"`
	Unrecognized    []UnrecognizedGPU `json:"unrecognized,omitempty"`
	Conflicts       []map[string]any  `json:"conflicts,omitempty"`
	MIGApplied      []string          `json:"migApplied,omitempty"`
	MIGUnmanaged    []string          `json:"migUnmanaged,omitempty"`
	MIGPending      []string          `json:"migPending,omitempty"`
	MIGRemoved      []string          `json:"migRemoved,omitempty"`
	Changed         *bool             `json:"changed,omitempty"`
	Coalesced       *bool             `json:"coalesced,omitempty"`
}

// GPUMetricSource: Prometheus as the collection status sees it.
type GPUMetricSource struct {
	URL       string `json:"url,omitempty"`
	Reachable *bool  `json:"reachable,omitempty"`
	Error     string `json:"error,omitempty"`
}

// GPUScrapeTarget: one scrape target of the GPU metrics with its freshness (seconds).
type GPUScrapeTarget struct {
	Job                       string   `json:"job,omitempty"`
	Instance                  string   `json:"instance,omitempty"`
	NodeName                  string   `json:"nodeName,omitempty"`
	ScrapeURL                 string   `json:"scrapeUrl,omitempty"`
	Health                    string   `json:"health,omitempty"`
	LastScrape                *Time    `json:"lastScrape,omitempty"`
	LastScrapeDurationSeconds *float64 `json:"lastScrapeDurationSeconds,omitempty"`
	FreshnessSeconds          *float64 `json:"freshnessSeconds,omitempty"`
	LastError                 string   `json:"lastError,omitempty"`
}

// GPUExporterState: one exporter: expected and visible GPUs, newest sample.
type GPUExporterState struct {
	NodeName         string   `json:"nodeName,omitempty"`
	Version          string   `json:"version,omitempty"`
	DevicesExpected  *int     `json:"devicesExpected,omitempty"`
	DevicesVisible   *int     `json:"devicesVisible,omitempty"`
	MissingDevices   *int     `json:"missingDevices,omitempty"`
	LastSampleAt     *Time    `json:"lastSampleAt,omitempty"`
	FreshnessSeconds *float64 `json:"freshnessSeconds,omitempty"`
}

// UnrecognizedGPURecord: a GPU the inventory sync saw but could not register.
type UnrecognizedGPURecord struct {
	GPUUUID     string `json:"gpuUuid,omitempty"`
	NodeName    string `json:"nodeName,omitempty"`
	DeviceIndex *int   `json:"deviceIndex,omitempty"`
	ProductName string `json:"productName,omitempty"`
	FirstSeenAt *Time  `json:"firstSeenAt,omitempty"`
	LastSeenAt  *Time  `json:"lastSeenAt,omitempty"`
}

// CollectionStatus: GET /gpu/metrics/collection-status.
type CollectionStatus struct {
	LastSync            *SyncResult             `json:"lastSync,omitempty"`
	RunningSince        *Time                   `json:"runningSince,omitempty"`
	SyncIntervalSeconds *int                    `json:"syncIntervalSeconds,omitempty"`
	Prometheus          *GPUMetricSource        `json:"prometheus,omitempty"`
	Targets             []GPUScrapeTarget       `json:"targets,omitempty"`
	Exporters           []GPUExporterState      `json:"exporters,omitempty"`
	UnrecognizedGPUs    []UnrecognizedGPURecord `json:"unrecognizedGpus,omitempty"`
}

// GPUOverview: GET /gpu/overview: counts, utilisation now, costs (USD), alerts.
type GPUOverview struct {
	TotalNodes               *int           `json:"totalNodes,omitempty"`
	TotalGPUDevices          *int           `json:"totalGpuDevices,omitempty"`
	TotalMIGInstances        *int           `json:"totalMigInstances,omitempty"`
	ActiveAllocations        *int           `json:"activeAllocations,omitempty"`
	DevicesByModel           map[string]int `json:"devicesByModel,omitempty"`
	DevicesReporting         *int           `json:"devicesReporting,omitempty"`
	OverallGPUUtilization    *float64       `json:"overallGpuUtilization,omitempty"`
	OverallMemoryUtilization *float64       `json:"overallMemoryUtilization,omitempty"`
	OverallTemperature       *float64       `json:"overallTemperature,omitempty"`
	TotalHourlyCost          *float64       `json:"totalHourlyCost,omitempty"`
	TotalMonthlyCost         *float64       `json:"totalMonthlyCost,omitempty"`
	TotalAlerts              *int           `json:"totalAlerts,omitempty"`
	CriticalAlerts           *int           `json:"criticalAlerts,omitempty"`
	WarningAlerts            *int           `json:"warningAlerts,omitempty"`
	PrometheusAlerts         *int           `json:"prometheusAlerts,omitempty"`
	MetricsAvailable         *bool          `json:"metricsAvailable,omitempty"`
	MetricsUnavailableReason string         `json:"metricsUnavailableReason,omitempty"`
}

// GPUClusterHealth: GET /gpu/health: devices per verdict with the reasons.
type GPUClusterHealth struct {
	Status          string                    `json:"status,omitempty"`
	TotalDevices    *int                      `json:"totalDevices,omitempty"`
	HealthyDevices  *int                      `json:"healthyDevices,omitempty"`
	WarningDevices  *int                      `json:"warningDevices,omitempty"`
	CriticalDevices *int                      `json:"criticalDevices,omitempty"`
	Reasons         map[string]int            `json:"reasons,omitempty"`
	DevicesByNode   map[string]map[string]int `json:"devicesByNode,omitempty"`
	Unhealthy       []DeviceHealth            `json:"unhealthy,omitempty"`
	CheckedAt       *Time                     `json:"checkedAt,omitempty"`
}

// ---- cost ----
// CostSplit: Where the money went (USD): used, allocated but idle, unallocated, stranded MIG slices.
type CostSplit struct {
	Used          *float64 `json:"used,omitempty"`
	AllocatedIdle *float64 `json:"allocatedIdle,omitempty"`
	Unallocated   *float64 `json:"unallocated,omitempty"`
	Stranded      *float64 `json:"stranded,omitempty"`
	Total         *float64 `json:"total,omitempty"`
}

// MIGInstanceCost: one MIG instance's share of its GPU's cost.
type MIGInstanceCost struct {
	MIGUUID         string   `json:"migUuid,omitempty"`
	Profile         string   `json:"profile,omitempty"`
	Share           *float64 `json:"share,omitempty"`
	HeldHours       *float64 `json:"heldHours,omitempty"`
	IdleHours       *float64 `json:"idleHours,omitempty"`
	UtilizationMean *float64 `json:"utilizationMean,omitempty"`
	// UtilizationSource: SM_ACTIVE where UtilizationMean is SM activity.
	UtilizationSource string `json:"utilizationSource,omitempty"`
}

// DeviceCost: one GPU's cost over the window (USD) and its split.
type DeviceCost struct {
	DeviceID        string   `json:"deviceId,omitempty"`
	Node            string   `json:"node,omitempty"`
	GPUUUID         string   `json:"gpuUuid,omitempty"`
	ModelID         string   `json:"modelId,omitempty"`
	PricePerHour    *float64 `json:"pricePerHour,omitempty"`
	PriceBasis      string   `json:"priceBasis,omitempty"`
	PriceSource     string   `json:"priceSource,omitempty"`
	Hours           *float64 `json:"hours,omitempty"`
	HeldHours       *float64 `json:"heldHours,omitempty"`
	IdleHours       *float64 `json:"idleHours,omitempty"`
	UtilizationMean *float64 `json:"utilizationMean,omitempty"`
	// UtilizationSource: SM_ACTIVE or GPU_UTILIZATION.
	UtilizationSource string            `json:"utilizationSource,omitempty"`
	Cost              *CostSplit        `json:"cost,omitempty"`
	MIGLayout         []string          `json:"migLayout,omitempty"`
	StrandedShare     *float64          `json:"strandedShare,omitempty"`
	MIGInstances      []MIGInstanceCost `json:"migInstances,omitempty"`
}

// PodUnitCost: one GPU or MIG instance a pod held, and its cost (USD).
type PodUnitCost struct {
	DeviceID     string   `json:"deviceId,omitempty"`
	MIGUUID      string   `json:"migUuid,omitempty"`
	Profile      string   `json:"profile,omitempty"`
	ModelID      string   `json:"modelId,omitempty"`
	Share        *float64 `json:"share,omitempty"`
	PricePerHour *float64 `json:"pricePerHour,omitempty"`
	HeldHours    *float64 `json:"heldHours,omitempty"`
	IdleHours    *float64 `json:"idleHours,omitempty"`
	Cost         *float64 `json:"cost,omitempty"`
}

// PodCost: one pod's GPU cost (USD) with its owner (team, user, project).
type PodCost struct {
	Namespace   string            `json:"namespace,omitempty"`
	Pod         string            `json:"pod,omitempty"`
	Team        string            `json:"team,omitempty"`
	User        string            `json:"user,omitempty"`
	Project     string            `json:"project,omitempty"`
	OwnerSource map[string]string `json:"ownerSource,omitempty"`
	Cost        *float64          `json:"cost,omitempty"`
	IdleCost    *float64          `json:"idleCost,omitempty"`
	GPUHours    *float64          `json:"gpuHours,omitempty"`
	Units       []PodUnitCost     `json:"units,omitempty"`
}

// CostAnalysis: GET /gpu/cost/analysis: the seed's daily, weekly, monthly cost (USD) and more.
type CostAnalysis struct {
	DailyCost                *float64           `json:"dailyCost,omitempty"`
	WeeklyCost               *float64           `json:"weeklyCost,omitempty"`
	MonthlyCost              *float64           `json:"monthlyCost,omitempty"`
	CostByNamespace          map[string]float64 `json:"costByNamespace,omitempty"`
	CostByTeam               map[string]float64 `json:"costByTeam,omitempty"`
	PotentialMonthlySavings  *float64           `json:"potentialMonthlySavings,omitempty"`
	AnalysisDate             *Time              `json:"analysisDate,omitempty"`
	WindowDays               *int               `json:"windowDays,omitempty"`
	WindowStart              *Time              `json:"windowStart,omitempty"`
	WindowEnd                *Time              `json:"windowEnd,omitempty"`
	ResolutionSeconds        *int               `json:"resolutionSeconds,omitempty"`
	TotalCost                *float64           `json:"totalCost,omitempty"`
	FleetCost                *float64           `json:"fleetCost,omitempty"`
	CostByUser               map[string]float64 `json:"costByUser,omitempty"`
	CostByProject            map[string]float64 `json:"costByProject,omitempty"`
	CostByModel              map[string]float64 `json:"costByModel,omitempty"`
	FleetCostByModel         map[string]float64 `json:"fleetCostByModel,omitempty"`
	Split                    *CostSplit         `json:"split,omitempty"`
	SuggestionCount          *int               `json:"suggestionCount,omitempty"`
	MIGPricing               string             `json:"migPricing,omitempty"`
	IdleUtilizationThreshold *float64           `json:"idleUtilizationThreshold,omitempty"`
	Devices                  []DeviceCost       `json:"devices,omitempty"`
	Pods                     []PodCost          `json:"pods,omitempty"`
	UnrecognizedGPUs         []string           `json:"unrecognizedGpus,omitempty"`
}

// CostSuggestion: one optimisation suggestion with its monthly saving (USD) and evidence.
type CostSuggestion struct {
	ID             string         `json:"id,omitempty"`
	Type           string         `json:"type,omitempty"`
	Title          string         `json:"title,omitempty"`
	Action         string         `json:"action,omitempty"`
	MonthlySavings *float64       `json:"monthlySavings,omitempty"`
	DeviceIds      []string       `json:"deviceIds,omitempty"`
	Pods           []string       `json:"pods,omitempty"`
	Evidence       map[string]any `json:"evidence,omitempty"`
}

// CostOptimization: GET /gpu/cost/optimization: suggestions and the potential monthly saving (USD).
type CostOptimization struct {
	WindowDays              *int             `json:"windowDays,omitempty"`
	WindowStart             *Time            `json:"windowStart,omitempty"`
	WindowEnd               *Time            `json:"windowEnd,omitempty"`
	PotentialMonthlySavings *float64         `json:"potentialMonthlySavings,omitempty"`
	Suggestions             []CostSuggestion `json:"suggestions,omitempty"`
	AnalysisDate            *Time            `json:"analysisDate,omitempty"`
}

// ModelPrice: a model's price in the price book, USD per GPU-hour, with its source.
type ModelPrice struct {
	ModelID               string   `json:"modelId,omitempty"`
	ModelName             string   `json:"modelName,omitempty"`
	PricePerHour          *float64 `json:"pricePerHour,omitempty"`
	Source                string   `json:"source,omitempty"`
	AsOf                  string   `json:"asOf,omitempty"`
	Origin                string   `json:"origin,omitempty"`
	CataloguePricePerHour *float64 `json:"cataloguePricePerHour,omitempty"`
	CatalogueSource       string   `json:"catalogueSource,omitempty"`
	SetBy                 string   `json:"setBy,omitempty"`
}

// Budget: a monthly budget (USD) of a team or namespace with its last projection.
type Budget struct {
	BudgetID             string   `json:"budgetId,omitempty"`
	Scope                string   `json:"scope,omitempty"`
	Name                 string   `json:"name,omitempty"`
	MonthlyBudget        *float64 `json:"monthlyBudget,omitempty"`
	ProjectedMonthlyCost *float64 `json:"projectedMonthlyCost,omitempty"`
	ProjectedRatio       *float64 `json:"projectedRatio,omitempty"`
	Exceeded             *bool    `json:"exceeded,omitempty"`
	LastEvaluatedAt      *Time    `json:"lastEvaluatedAt,omitempty"`
	CreatedAt            *Time    `json:"createdAt,omitempty"`
	UpdatedAt            *Time    `json:"updatedAt,omitempty"`
}

// ---- forecast ----
// ForecastPoint: one forecast step: the expected value and its 80% and 95% intervals.
type ForecastPoint struct {
	Timestamp *Time    `json:"timestamp,omitempty"`
	Value     *float64 `json:"value,omitempty"`
	Lower80   *float64 `json:"lower80,omitempty"`
	Upper80   *float64 `json:"upper80,omitempty"`
	Lower95   *float64 `json:"lower95,omitempty"`
	Upper95   *float64 `json:"upper95,omitempty"`
}

// ForecastBacktest: How the chosen method did on held-out history (MASE).
type ForecastBacktest struct {
	Folds             *int               `json:"folds,omitempty"`
	HorizonHours      *int               `json:"horizonHours,omitempty"`
	MASE              *float64           `json:"mase,omitempty"`
	SeasonalNaiveMASE *float64           `json:"seasonalNaiveMase,omitempty"`
	Candidates        map[string]float64 `json:"candidates,omitempty"`
}

// ForecastCapacity: When the forecast reaches capacity (hours ahead), if it does.
type ForecastCapacity struct {
	Capacity          *float64 `json:"capacity,omitempty"`
	AtCapacityNow     *bool    `json:"atCapacityNow,omitempty"`
	HoursUntil        *int     `json:"hoursUntil,omitempty"`
	ReachedAt         *Time    `json:"reachedAt,omitempty"`
	HoursUntilUpper95 *int     `json:"hoursUntilUpper95,omitempty"`
	ReachedAtUpper95  *Time    `json:"reachedAtUpper95,omitempty"`
}

// SeriesForecast: the forecast of one series, with the method chosen and its backtest.
type SeriesForecast struct {
	Metric              string            `json:"metric,omitempty"`
	Unit                string            `json:"unit,omitempty"`
	Method              string            `json:"method,omitempty"`
	Model               string            `json:"model,omitempty"`
	Reason              string            `json:"reason,omitempty"`
	SeasonalPeriodHours *int              `json:"seasonalPeriodHours,omitempty"`
	Trend               *bool             `json:"trend,omitempty"`
	HistoryPoints       *int              `json:"historyPoints,omitempty"`
	HistoryStart        *Time             `json:"historyStart,omitempty"`
	LastObservedAt      *Time             `json:"lastObservedAt,omitempty"`
	LastValue           *float64          `json:"lastValue,omitempty"`
	Backtest            *ForecastBacktest `json:"backtest,omitempty"`
	Capacity            *ForecastCapacity `json:"capacity,omitempty"`
	Points              []ForecastPoint   `json:"points,omitempty"`
}

// ModelForecast: Forecasts of one GPU model's allocated GPUs and memory used (GB).
type ModelForecast struct {
	ModelID       string          `json:"modelId,omitempty"`
	ModelName     string          `json:"modelName,omitempty"`
	GPUCount      *int            `json:"gpuCount,omitempty"`
	MemoryTotalGB *float64        `json:"memoryTotalGb,omitempty"`
	AllocatedGPUs *SeriesForecast `json:"allocatedGpus,omitempty"`
	MemoryUsedGB  *SeriesForecast `json:"memoryUsedGb,omitempty"`
}

// CapacityWarning: a resource forecast to reach its capacity within the horizon.
type CapacityWarning struct {
	ModelID           string   `json:"modelId,omitempty"`
	Resource          string   `json:"resource,omitempty"`
	Unit              string   `json:"unit,omitempty"`
	Capacity          *float64 `json:"capacity,omitempty"`
	AtCapacityNow     *bool    `json:"atCapacityNow,omitempty"`
	HoursUntil        *int     `json:"hoursUntil,omitempty"`
	ReachedAt         *Time    `json:"reachedAt,omitempty"`
	HoursUntilUpper95 *int     `json:"hoursUntilUpper95,omitempty"`
	ReachedAtUpper95  *Time    `json:"reachedAtUpper95,omitempty"`
}

// GPUForecast: GET /gpu/forecast: GPU utilisation, allocated GPUs and memory, per model too.
type GPUForecast struct {
	Hours            *int              `json:"hours,omitempty"`
	GeneratedAt      *Time             `json:"generatedAt,omitempty"`
	StepSeconds      *int              `json:"stepSeconds,omitempty"`
	HistoryHours     *int              `json:"historyHours,omitempty"`
	Utilization      *SeriesForecast   `json:"utilization,omitempty"`
	AllocatedGPUs    *SeriesForecast   `json:"allocatedGpus,omitempty"`
	MemoryUsedGB     *SeriesForecast   `json:"memoryUsedGb,omitempty"`
	ByModel          []ModelForecast   `json:"byModel,omitempty"`
	CapacityWarnings []CapacityWarning `json:"capacityWarnings,omitempty"`
}

// ResourceForecast: GET /resources/forecast: cluster CPU, memory and GPU usage.
type ResourceForecast struct {
	Hours        *int            `json:"hours,omitempty"`
	GeneratedAt  *Time           `json:"generatedAt,omitempty"`
	StepSeconds  *int            `json:"stepSeconds,omitempty"`
	HistoryHours *int            `json:"historyHours,omitempty"`
	CPU          *SeriesForecast `json:"cpu,omitempty"`
	Memory       *SeriesForecast `json:"memory,omitempty"`
	GPU          *SeriesForecast `json:"gpu,omitempty"`
}

// ---- resources ----
// ResourceClaimRef: a Kubernetes DRA ResourceClaim a pod holds GPUs or MIG devices through.
type ResourceClaimRef struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// Pod: a pod with its usage (percent, cores, GB).
type Pod struct {
	Name               string             `json:"name,omitempty"`
	Namespace          string             `json:"namespace,omitempty"`
	NodeName           string             `json:"nodeName,omitempty"`
	Phase              string             `json:"phase,omitempty"`
	ModelType          string             `json:"modelType,omitempty"`
	ModelName          string             `json:"modelName,omitempty"`
	CPUUsagePercent    *float64           `json:"cpuUsagePercent,omitempty"`
	MemoryUsagePercent *float64           `json:"memoryUsagePercent,omitempty"`
	GPUUsagePercent    *float64           `json:"gpuUsagePercent,omitempty"`
	CreationTime       *Time              `json:"creationTime,omitempty"`
	CPUUsageCores      *float64           `json:"cpuUsageCores,omitempty"`
	MemoryUsageGB      *float64           `json:"memoryUsageGb,omitempty"`
	GPUCount           *int               `json:"gpuCount,omitempty"`
	Claims             []ResourceClaimRef `json:"claims,omitempty"`
}

// TopPod: a pod of /resources/pods/top with its rank and usage value.
type TopPod struct {
	Pod
	Rank       *int     `json:"rank,omitempty"`
	UsageValue *float64 `json:"usageValue,omitempty"`
	UsageUnit  string   `json:"usageUnit,omitempty"`
}

// Container: a container: image, requests and limits (Kubernetes quantities), usage.
type Container struct {
	Name          string            `json:"name,omitempty"`
	Image         string            `json:"image,omitempty"`
	Requests      map[string]string `json:"requests,omitempty"`
	Limits        map[string]string `json:"limits,omitempty"`
	CPUUsageCores *float64          `json:"cpuUsageCores,omitempty"`
	MemoryUsageGB *float64          `json:"memoryUsageGb,omitempty"`
	RestartCount  *int              `json:"restartCount,omitempty"`
}

// PodGPU: a GPU or MIG instance a pod's container holds.
type PodGPU struct {
	DeviceID           string   `json:"deviceId,omitempty"`
	NodeName           string   `json:"nodeName,omitempty"`
	GPUIndex           *int     `json:"gpuIndex,omitempty"`
	GPUUUID            string   `json:"gpuUuid,omitempty"`
	MIGUUID            string   `json:"migUuid,omitempty"`
	MIGProfile         string   `json:"migProfile,omitempty"`
	Container          string   `json:"container,omitempty"`
	Resource           string   `json:"resource,omitempty"`
	Sharing            string   `json:"sharing,omitempty"`
	UtilizationPercent *float64 `json:"utilizationPercent,omitempty"`
	MemoryUsedGB       *float64 `json:"memoryUsedGb,omitempty"`
	// Claim is nil for a device-plugin GPU.
	Claim *ResourceClaimRef `json:"claim,omitempty"`
}

// PodDetail: one pod in detail: containers and the GPUs it holds.
type PodDetail struct {
	Pod
	Uid          string      `json:"uid,omitempty"`
	PodIP        string      `json:"podIp,omitempty"`
	HostIP       string      `json:"hostIp,omitempty"`
	OwnerKind    string      `json:"ownerKind,omitempty"`
	OwnerName    string      `json:"ownerName,omitempty"`
	RestartCount *int        `json:"restartCount,omitempty"`
	Containers   []Container `json:"containers,omitempty"`
	GPUs         []PodGPU    `json:"gpus,omitempty"`
}

// Node: a node: role, Ready, capacities, usage (percent) and pod counts.
type Node struct {
	Name                  string            `json:"name,omitempty"`
	Role                  string            `json:"role,omitempty"`
	Status                string            `json:"status,omitempty"`
	CPUCapacity           string            `json:"cpuCapacity,omitempty"`
	MemoryCapacity        string            `json:"memoryCapacity,omitempty"`
	GPUCapacity           string            `json:"gpuCapacity,omitempty"`
	CPUAllocatable        string            `json:"cpuAllocatable,omitempty"`
	MemoryAllocatable     string            `json:"memoryAllocatable,omitempty"`
	GPUAllocatable        string            `json:"gpuAllocatable,omitempty"`
	CPUUsagePercent       *float64          `json:"cpuUsagePercent,omitempty"`
	MemoryUsagePercent    *float64          `json:"memoryUsagePercent,omitempty"`
	GPUUsagePercent       *float64          `json:"gpuUsagePercent,omitempty"`
	CPUUsageCores         *float64          `json:"cpuUsageCores,omitempty"`
	MemoryUsageGB         *float64          `json:"memoryUsageGb,omitempty"`
	GPUDeviceCount        *int              `json:"gpuDeviceCount,omitempty"`
	TotalPodCount         *int              `json:"totalPodCount,omitempty"`
	RunningPodCount       *int              `json:"runningPodCount,omitempty"`
	VllmPodCount          *int              `json:"vllmPodCount,omitempty"`
	SglangPodCount        *int              `json:"sglangPodCount,omitempty"`
	ModelServingPodCounts map[string]int    `json:"modelServingPodCounts,omitempty"`
	Conditions            map[string]string `json:"conditions,omitempty"`
}

// GPUHolder: a pod holding a GPU or MIG instance.
type GPUHolder struct {
	Namespace string `json:"namespace,omitempty"`
	Pod       string `json:"pod,omitempty"`
	Container string `json:"container,omitempty"`
	Resource  string `json:"resource,omitempty"`
	Sharing   string `json:"sharing,omitempty"`
	MIGUUID   string `json:"migUuid,omitempty"`
	// Claim is nil for a device-plugin GPU.
	Claim *ResourceClaimRef `json:"claim,omitempty"`
}

// NodeMIGInstance: a MIG instance as the node's exporter reports it.
type NodeMIGInstance struct {
	MIGUUID           string      `json:"migUuid,omitempty"`
	Profile           string      `json:"profile,omitempty"`
	GPUInstanceID     *int        `json:"gpuInstanceId,omitempty"`
	ComputeInstanceID *int        `json:"computeInstanceId,omitempty"`
	MemoryUsedGB      *float64    `json:"memoryUsedGb,omitempty"`
	MemoryTotalGB     *float64    `json:"memoryTotalGb,omitempty"`
	Holders           []GPUHolder `json:"holders,omitempty"`
}

// NodeGPU: a GPU of a node with its live values and holders.
type NodeGPU struct {
	DeviceID           string            `json:"deviceId,omitempty"`
	Index              *int              `json:"index,omitempty"`
	UUID               string            `json:"uuid,omitempty"`
	ModelName          string            `json:"modelName,omitempty"`
	MIGMode            string            `json:"migMode,omitempty"`
	Up                 *bool             `json:"up,omitempty"`
	UtilizationPercent *float64          `json:"utilizationPercent,omitempty"`
	MemoryUsedGB       *float64          `json:"memoryUsedGb,omitempty"`
	MemoryTotalGB      *float64          `json:"memoryTotalGb,omitempty"`
	TemperatureC       *float64          `json:"temperatureC,omitempty"`
	PowerW             *float64          `json:"powerW,omitempty"`
	MIGInstances       []NodeMIGInstance `json:"migInstances,omitempty"`
	Holders            []GPUHolder       `json:"holders,omitempty"`
}

// NodeDetail: one node in detail with its GPUs and pods.
type NodeDetail struct {
	Name                    string            `json:"name,omitempty"`
	Role                    string            `json:"role,omitempty"`
	Status                  string            `json:"status,omitempty"`
	CPUCapacity             string            `json:"cpuCapacity,omitempty"`
	MemoryCapacity          string            `json:"memoryCapacity,omitempty"`
	GPUCapacity             string            `json:"gpuCapacity,omitempty"`
	CPUAllocatable          string            `json:"cpuAllocatable,omitempty"`
	MemoryAllocatable       string            `json:"memoryAllocatable,omitempty"`
	GPUAllocatable          string            `json:"gpuAllocatable,omitempty"`
	CPUUsagePercent         *float64          `json:"cpuUsagePercent,omitempty"`
	MemoryUsagePercent      *float64          `json:"memoryUsagePercent,omitempty"`
	GPUUsagePercent         *float64          `json:"gpuUsagePercent,omitempty"`
	CPUUsageCores           *float64          `json:"cpuUsageCores,omitempty"`
	MemoryUsageGB           *float64          `json:"memoryUsageGb,omitempty"`
	GPUDeviceCount          *int              `json:"gpuDeviceCount,omitempty"`
	TotalPodCount           *int              `json:"totalPodCount,omitempty"`
	RunningPodCount         *int              `json:"runningPodCount,omitempty"`
	VllmPodCount            *int              `json:"vllmPodCount,omitempty"`
	SglangPodCount          *int              `json:"sglangPodCount,omitempty"`
	ModelServingPodCounts   map[string]int    `json:"modelServingPodCounts,omitempty"`
	Conditions              map[string]string `json:"conditions,omitempty"`
	KubeletVersion          string            `json:"kubeletVersion,omitempty"`
	OSImage                 string            `json:"osImage,omitempty"`
	KernelVersion           string            `json:"kernelVersion,omitempty"`
	ContainerRuntimeVersion string            `json:"containerRuntimeVersion,omitempty"`
	InternalIP              string            `json:"internalIp,omitempty"`
	GPUs                    []NodeGPU         `json:"gpus,omitempty"`
	Pods                    []Pod             `json:"pods,omitempty"`
}

// ClusterSummary: Cluster-wide counts and average usage (percent).
type ClusterSummary struct {
	TotalNodes     *int     `json:"totalNodes,omitempty"`
	ReadyNodes     *int     `json:"readyNodes,omitempty"`
	TotalPods      *int     `json:"totalPods,omitempty"`
	RunningPods    *int     `json:"runningPods,omitempty"`
	VllmPods       *int     `json:"vllmPods,omitempty"`
	SglangPods     *int     `json:"sglangPods,omitempty"`
	AvgCPUUsage    *float64 `json:"avgCpuUsage,omitempty"`
	AvgMemoryUsage *float64 `json:"avgMemoryUsage,omitempty"`
	AvgGPUUsage    *float64 `json:"avgGpuUsage,omitempty"`
}

// ClusterUsage: GET /resources/usage: pods, nodes and the cluster summary.
type ClusterUsage struct {
	Pods           []Pod           `json:"pods,omitempty"`
	Nodes          []Node          `json:"nodes,omitempty"`
	ClusterSummary *ClusterSummary `json:"clusterSummary,omitempty"`
	Timestamp      *Time           `json:"timestamp,omitempty"`
}

// NamespaceUsage: Usage of one namespace: pods, CPU, memory, GPUs held.
type NamespaceUsage struct {
	Namespace          string   `json:"namespace,omitempty"`
	PodCount           *int     `json:"podCount,omitempty"`
	RunningPodCount    *int     `json:"runningPodCount,omitempty"`
	ServingPodCount    *int     `json:"servingPodCount,omitempty"`
	CPUUsageCores      *float64 `json:"cpuUsageCores,omitempty"`
	CPUUsagePercent    *float64 `json:"cpuUsagePercent,omitempty"`
	CPURequestCores    *float64 `json:"cpuRequestCores,omitempty"`
	MemoryUsageGB      *float64 `json:"memoryUsageGb,omitempty"`
	MemoryUsagePercent *float64 `json:"memoryUsagePercent,omitempty"`
	MemoryRequestGB    *float64 `json:"memoryRequestGb,omitempty"`
	GPUDevices         *int     `json:"gpuDevices,omitempty"`
	WholeGPUs          *int     `json:"wholeGpus,omitempty"`
	MIGInstances       *int     `json:"migInstances,omitempty"`
	SharedGPUs         *int     `json:"sharedGpus,omitempty"`
	GPUUsagePercent    *float64 `json:"gpuUsagePercent,omitempty"`
}

// UsageSeriesStatistics: Average, peak and current value of a series over the window.
type UsageSeriesStatistics struct {
	Average *float64 `json:"average,omitempty"`
	Peak    *float64 `json:"peak,omitempty"`
	Current *float64 `json:"current,omitempty"`
}

// ClusterStatistics: GET /resources/statistics over a window of hours.
type ClusterStatistics struct {
	TimeRange       string                 `json:"timeRange,omitempty"`
	Hours           *int                   `json:"hours,omitempty"`
	Start           *Time                  `json:"start,omitempty"`
	End             *Time                  `json:"end,omitempty"`
	StepSeconds     *int                   `json:"stepSeconds,omitempty"`
	CPUUsage        *UsageSeriesStatistics `json:"cpuUsage,omitempty"`
	MemoryUsage     *UsageSeriesStatistics `json:"memoryUsage,omitempty"`
	GPUUsage        *UsageSeriesStatistics `json:"gpuUsage,omitempty"`
	PodCount        *UsageSeriesStatistics `json:"podCount,omitempty"`
	RunningPodCount *UsageSeriesStatistics `json:"runningPodCount,omitempty"`
}

// NodeHealth: Node counts by readiness.
type NodeHealth struct {
	Total    *int `json:"total,omitempty"`
	Ready    *int `json:"ready,omitempty"`
	NotReady *int `json:"notReady,omitempty"`
}

// PodHealth: Pod counts by trouble.
type PodHealth struct {
	Total          *int `json:"total,omitempty"`
	Running        *int `json:"running,omitempty"`
	Failed         *int `json:"failed,omitempty"`
	PendingTooLong *int `json:"pendingTooLong,omitempty"`
	CrashLooping   *int `json:"crashLooping,omitempty"`
}

// ExporterHealth: Scrape target and exporter counts.
type ExporterHealth struct {
	Targets     *int `json:"targets,omitempty"`
	TargetsUp   *int `json:"targetsUp,omitempty"`
	TargetsDown *int `json:"targetsDown,omitempty"`
	StaleStages *int `json:"staleStages,omitempty"`
	MissingGPUs *int `json:"missingGpus,omitempty"`
}

// ClusterIssue: one cluster health finding.
type ClusterIssue struct {
	Severity string            `json:"severity,omitempty"`
	Kind     string            `json:"kind,omitempty"`
	Subject  string            `json:"subject,omitempty"`
	Summary  string            `json:"summary,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	Value    *float64          `json:"value,omitempty"`
}

// ClusterHealth: GET /resources/health.
type ClusterHealth struct {
	Status    string          `json:"status,omitempty"`
	Nodes     *NodeHealth     `json:"nodes,omitempty"`
	Pods      *PodHealth      `json:"pods,omitempty"`
	Exporters *ExporterHealth `json:"exporters,omitempty"`
	Issues    []ClusterIssue  `json:"issues,omitempty"`
	Timestamp *Time           `json:"timestamp,omitempty"`
}

// ResourceAlert: a firing Prometheus alert or one of the service's own checks.
type ResourceAlert struct {
	Name        string            `json:"name,omitempty"`
	Severity    string            `json:"severity,omitempty"`
	Source      string            `json:"source,omitempty"`
	State       string            `json:"state,omitempty"`
	Summary     string            `json:"summary,omitempty"`
	Description string            `json:"description,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	StartsAt    *Time             `json:"startsAt,omitempty"`
	Value       *float64          `json:"value,omitempty"`
}

// PrometheusState: Prometheus reachability and answer time (ms).
type PrometheusState struct {
	URL            string   `json:"url,omitempty"`
	Reachable      *bool    `json:"reachable,omitempty"`
	ResponseTimeMs *float64 `json:"responseTimeMs,omitempty"`
}

// ScrapeJob: a scrape job with its targets up.
type ScrapeJob struct {
	Job     string `json:"job,omitempty"`
	Targets *int   `json:"targets,omitempty"`
	Up      *int   `json:"up,omitempty"`
}

// ScrapeTargetState: one scrape target's health.
type ScrapeTargetState struct {
	Job                  string   `json:"job,omitempty"`
	Instance             string   `json:"instance,omitempty"`
	Health               string   `json:"health,omitempty"`
	LastScrape           *Time    `json:"lastScrape,omitempty"`
	LastScrapeDurationMs *float64 `json:"lastScrapeDurationMs,omitempty"`
	LastError            string   `json:"lastError,omitempty"`
}

// MetricSource: one metric source (kube-state-metrics, cAdvisor, exporter) and its freshness.
type MetricSource struct {
	Name                   string   `json:"name,omitempty"`
	Metric                 string   `json:"metric,omitempty"`
	Present                *bool    `json:"present,omitempty"`
	SeriesCount            *int     `json:"seriesCount,omitempty"`
	NewestSampleAgeSeconds *float64 `json:"newestSampleAgeSeconds,omitempty"`
	Fresh                  *bool    `json:"fresh,omitempty"`
}

// MetricsStatus: GET /resources/metrics/status.
type MetricsStatus struct {
	Status     string              `json:"status,omitempty"`
	Prometheus *PrometheusState    `json:"prometheus,omitempty"`
	Jobs       []ScrapeJob         `json:"jobs,omitempty"`
	Targets    []ScrapeTargetState `json:"targets,omitempty"`
	Sources    []MetricSource      `json:"sources,omitempty"`
	Timestamp  *Time               `json:"timestamp,omitempty"`
}

// ---- webhooks ----
// DeliveryCounts: Deliveries of a webhook by status.
type DeliveryCounts struct {
	Pending   *int `json:"PENDING,omitempty"`
	Delivered *int `json:"DELIVERED,omitempty"`
	Failed    *int `json:"FAILED,omitempty"`
}

// Webhook: a registered webhook (its secret is never returned).
type Webhook struct {
	WebhookID  string          `json:"webhookId,omitempty"`
	Name       string          `json:"name,omitempty"`
	URL        string          `json:"url,omitempty"`
	Events     []string        `json:"events,omitempty"`
	Active     *bool           `json:"active,omitempty"`
	CreatedBy  string          `json:"createdBy,omitempty"`
	CreatedAt  *Time           `json:"createdAt,omitempty"`
	UpdatedAt  *Time           `json:"updatedAt,omitempty"`
	Deliveries *DeliveryCounts `json:"deliveries,omitempty"`
}

// DeliveryAttempt: one attempt of a delivery: HTTP status, error, duration (ms).
type DeliveryAttempt struct {
	Attempt    *int   `json:"attempt,omitempty"`
	StartedAt  *Time  `json:"startedAt,omitempty"`
	DurationMs *int   `json:"durationMs,omitempty"`
	StatusCode *int   `json:"statusCode,omitempty"`
	Error      string `json:"error,omitempty"`
	Outcome    string `json:"outcome,omitempty"`
}

// WebhookDelivery: one event delivered (or being delivered) to a webhook, with its attempts.
type WebhookDelivery struct {
	DeliveryID     *int              `json:"deliveryId,omitempty"`
	EventID        string            `json:"eventId,omitempty"`
	Event          string            `json:"event,omitempty"`
	Timestamp      *Time             `json:"timestamp,omitempty"`
	Status         string            `json:"status,omitempty"`
	Attempts       *int              `json:"attempts,omitempty"`
	NextAttemptAt  *Time             `json:"nextAttemptAt,omitempty"`
	Leased         *bool             `json:"leased,omitempty"`
	LastStatusCode *int              `json:"lastStatusCode,omitempty"`
	LastError      string            `json:"lastError,omitempty"`
	CreatedAt      *Time             `json:"createdAt,omitempty"`
	FinishedAt     *Time             `json:"finishedAt,omitempty"`
	Log            []DeliveryAttempt `json:"log,omitempty"`
}

// WebhookTestEvent: a queued WEBHOOK_TEST event; its delivery shows in the webhook's delivery log.
type WebhookTestEvent struct {
	EventID   string `json:"eventId,omitempty"`
	WebhookID string `json:"webhookId,omitempty"`
	Event     string `json:"event,omitempty"`
	QueuedAt  *Time  `json:"queuedAt,omitempty"`
}

// Receipt: What the service did with an Alertmanager notification.
type Receipt struct {
	Received *int     `json:"received,omitempty"`
	Recorded *int     `json:"recorded,omitempty"`
	Repeated *int     `json:"repeated,omitempty"`
	Ignored  []string `json:"ignored,omitempty"`
}

// ---- batch ----
// BatchAllocationResult: POST /batch/allocations: the allocations, in request order.
type BatchAllocationResult struct {
	BatchID     string       `json:"batchId,omitempty"`
	Allocations []Allocation `json:"allocations,omitempty"`
}

// NodeGPUMetrics: GPU averages of one node over the batch's time range.
type NodeGPUMetrics struct {
	DevicesRegistered    *int                   `json:"devicesRegistered,omitempty"`
	DevicesReported      *int                   `json:"devicesReported,omitempty"`
	AvgGPUUtilization    *float64               `json:"avgGpuUtilization,omitempty"`
	AvgMemoryUtilization *float64               `json:"avgMemoryUtilization,omitempty"`
	AvgTemperature       *float64               `json:"avgTemperature,omitempty"`
	DeviceStatistics     map[string]DeviceUsage `json:"deviceStatistics,omitempty"`
}

// NodeResourceMetrics: CPU (cores) and memory (GB) use of one node.
type NodeResourceMetrics struct {
	CPUCoresUsed        *float64 `json:"cpuCoresUsed,omitempty"`
	CPUCoresAllocatable *float64 `json:"cpuCoresAllocatable,omitempty"`
	CPUUsagePercent     *float64 `json:"cpuUsagePercent,omitempty"`
	MemoryUsedGB        *float64 `json:"memoryUsedGb,omitempty"`
	MemoryAllocatableGB *float64 `json:"memoryAllocatableGb,omitempty"`
	MemoryUsagePercent  *float64 `json:"memoryUsagePercent,omitempty"`
}

// NodeCollectResult: one node of a batch metrics collection.
type NodeCollectResult struct {
	NodeName    string               `json:"nodeName,omitempty"`
	Status      string               `json:"status,omitempty"`
	GPUMetrics  *NodeGPUMetrics      `json:"gpuMetrics,omitempty"`
	NodeMetrics *NodeResourceMetrics `json:"nodeMetrics,omitempty"`
}

// BatchMetricsCollectResult: POST /batch/metrics/collect.
type BatchMetricsCollectResult struct {
	TimeRange string              `json:"timeRange,omitempty"`
	Sync      *SyncResult         `json:"sync,omitempty"`
	Nodes     []NodeCollectResult `json:"nodes,omitempty"`
}

// ---- paging ----

// ---- accounts ----
// User: an account (docs/auth.md): login name, role (viewer, operator, admin), team; never its
// password.
type User struct {
	Username  string `json:"username,omitempty"`
	Role      string `json:"role,omitempty"`
	Team      string `json:"team,omitempty"`
	Disabled  *bool  `json:"disabled,omitempty"`
	CreatedAt *Time  `json:"createdAt,omitempty"`
	UpdatedAt *Time  `json:"updatedAt,omitempty"`
}

// APIKey: an API key as listed: its id and role, never the key itself.
type APIKey struct {
	KeyID     string `json:"keyId,omitempty"`
	Name      string `json:"name,omitempty"`
	Role      string `json:"role,omitempty"`
	Username  string `json:"username,omitempty"`
	CreatedAt *Time  `json:"createdAt,omitempty"`
	RevokedAt *Time  `json:"revokedAt,omitempty"`
}

// NewAPIKey: a key just made; Key is the secret itself, shown this once (stored only as a hash).
type NewAPIKey struct {
	KeyID     string `json:"keyId,omitempty"`
	Name      string `json:"name,omitempty"`
	Role      string `json:"role,omitempty"`
	Username  string `json:"username,omitempty"`
	CreatedAt *Time  `json:"createdAt,omitempty"`
	RevokedAt *Time  `json:"revokedAt,omitempty"`
	Key       string `json:"key,omitempty"`
}

// Token: a short-lived Bearer token (JWT) from POST /auth/token; ExpiresIn is seconds.
type Token struct {
	AccessToken string `json:"accessToken,omitempty"`
	TokenType   string `json:"tokenType,omitempty"`
	ExpiresIn   *int   `json:"expiresIn,omitempty"`
	ExpiresAt   *Time  `json:"expiresAt,omitempty"`
	Role        string `json:"role,omitempty"`
	Subject     string `json:"subject,omitempty"`
}
