package com.k8s.monitor.client;

import static com.k8s.monitor.client.Transport.path;
import static com.k8s.monitor.client.Transport.query;

import com.k8s.monitor.client.model.Budget;
import com.k8s.monitor.client.model.CostAnalysis;
import com.k8s.monitor.client.model.CostOptimization;
import com.k8s.monitor.client.model.CostStatistics;
import com.k8s.monitor.client.model.ModelPrice;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code client.cost()}: cost analysis and optimisation, the price book, budgets (/gpu/cost). */
public final class CostApi {
    private static final String PREFIX = "/gpu/cost";
    private final Transport http;

    CostApi(Transport http) {
        this.http = http;
    }

    /** Daily, weekly, monthly cost by namespace and team, potential savings (USD). */
    public CostAnalysis analyze(int days) {
        return http.call("GET", PREFIX + "/analysis", query("days", days), null, CostAnalysis.class);
    }

    /** Concrete suggestions with their evidence and monthly saving (USD). */
    public CostOptimization optimization() {
        return optimization(null);
    }

    public CostOptimization optimization(Integer days) {
        return http.call("GET", PREFIX + "/optimization", query("days", days), null,
                CostOptimization.class);
    }

    /** Allocation cost by team, namespace, user and model (/gpu/allocations/cost-statistics). */
    public CostStatistics statistics(Integer days) {
        return http.call("GET", "/gpu/allocations/cost-statistics", query("days", days), null,
                CostStatistics.class);
    }

    /** Each model's USD per GPU-hour with its source. */
    public List<ModelPrice> prices() {
        return http.callList("GET", PREFIX + "/prices", query(), ModelPrice.class);
    }

    public ModelPrice price(String modelId) {
        return http.call("GET", PREFIX + path("prices", modelId), query(), null, ModelPrice.class);
    }

    /** Set a model's price, USD per GPU-hour (admin); {@code source} may be null. */
    public ModelPrice setPrice(String modelId, double pricePerHour, String source) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("pricePerHour", pricePerHour);
        if (source != null) {
            body.put("source", source);
        }
        return http.call("PUT", PREFIX + path("prices", modelId), query(), body, ModelPrice.class);
    }

    /** Remove the price set through the API (admin): the configured or catalogue one applies. */
    public ModelPrice resetPrice(String modelId) {
        return http.call("DELETE", PREFIX + path("prices", modelId), query(), null, ModelPrice.class);
    }

    /** Budgets with their last projection. */
    public List<Budget> budgets() {
        return http.callList("GET", PREFIX + "/budgets", query(), Budget.class);
    }

    public Budget budget(String budgetId) {
        return http.call("GET", PREFIX + path("budgets", budgetId), query(), null, Budget.class);
    }

    /** A monthly budget (USD) for a {@code team} or {@code namespace} scope (admin). */
    public Budget createBudget(String scope, String name, double monthlyBudget) {
        Map<String, Object> body = Map.of("scope", scope, "name", name, "monthlyBudget", monthlyBudget);
        return http.call("POST", PREFIX + "/budgets", query(), body, Budget.class);
    }

    public Budget updateBudget(String budgetId, double monthlyBudget) {
        return http.call("PUT", PREFIX + path("budgets", budgetId), query(),
                Map.of("monthlyBudget", monthlyBudget), Budget.class);
    }

    /** Delete a budget (admin); returns it as it was. */
    public Budget deleteBudget(String budgetId) {
        return http.call("DELETE", PREFIX + path("budgets", budgetId), query(), null, Budget.class);
    }

    /** Evaluate every budget now (operator). */
    public List<Budget> checkBudgets() {
        return http.callList("POST", PREFIX + "/budgets/check", query(), Budget.class);
    }
}
