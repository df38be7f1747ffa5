package com.k8s.monitor.client.model;

import com.fasterxml.jackson.annotation.JsonIgnore;

/** An object holding a fleet-wide list, which a page and size cut to one page. */
public abstract class PagedModel extends ApiModel {
    @JsonIgnore
    private Pagination pagination;

    /** Null for the whole list, else this page and the size of the whole list. */
    public Pagination getPagination() {
        return pagination;
    }

    public void setPagination(Pagination pagination) {
        this.pagination = pagination;
    }
}
