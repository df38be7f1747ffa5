package com.k8s.monitor.client.model;

import java.util.ArrayList;
import java.util.Collection;

/**
 * The rows of a fleet-wide list: the whole list, or the page that a page and size asked for.
 * It is a {@code List}, so code written for whole lists ({@code List<GpuDeviceInfo> devices =
 * client.devices().list()}) keeps working; {@link #getPagination()} is null for a whole list.
 */
public final class Page<T> extends ArrayList<T> {
    private static final long serialVersionUID = 1L;
    private final transient Pagination pagination;

    public Page(Collection<? extends T> rows, Pagination pagination) {
        super(rows);
        this.pagination = pagination;
    }

    public Pagination getPagination() {
        return pagination;
    }

    /** Rows in the whole list: the service's count, or this list's size when whole. */
    public long getTotalElements() {
        if (pagination != null && pagination.getTotalElements() != null) {
            return pagination.getTotalElements();
        }
        return size();
    }

    /** Pages in the whole list (1 for a whole, non-empty list). */
    public long getTotalPages() {
        if (pagination != null && pagination.getTotalPages() != null) {
            return pagination.getTotalPages();
        }
        return isEmpty() ? 0 : 1;
    }

    @Override
    public boolean equals(Object other) {
        return super.equals(other);
    }

    @Override
    public int hashCode() {
        return super.hashCode();
    }
}
