// Premises search in the signed-in user's area: text in the name or address, a category filter,
// and paging (a page at a time as the list scrolls). Offline: it reads the device's store.
// Searches typed quickly run concurrently: only the newest one's results are shown.
// Every call blocks (SQLite): the screen calls these from a background dispatcher.
package org.firegrid.model

import java.util.concurrent.atomic.AtomicLong
import org.firegrid.ffi.Category
import org.firegrid.ffi.FiregridStore
import org.firegrid.ffi.PremisesFilter
import org.firegrid.ffi.PremisesSummary

data class PremisesSearchState(
    val query: String = "",
    val category: Category? = null,
    val items: List<PremisesSummary> = emptyList(),
    /** More rows may follow: the list asks for them with `loadMore` when it reaches the end. */
    val canLoadMore: Boolean = false,
    val error: String? = null,
)

class PremisesSearchModel(
    private val store: FiregridStore,
    texts: Texts = Texts("zh"),
    private val pageSize: Int = 50,
) : StateModel<PremisesSearchState>(PremisesSearchState(), texts) {
    init {
        require(pageSize in 1..5_000) { "pageSize must be 1..5000" }
    }

    /** Bumped by every search: a page that comes back after a newer search began is dropped. */
    private val generation = AtomicLong()

    private fun fail(message: String) {
        update { it.copy(error = message, canLoadMore = false) }
    }

    private fun page(query: String, category: Category?, offset: Int): List<PremisesSummary>? = guarded(::fail) {
        store.listPremises(
            PremisesFilter(
                category = category,
                text = query.trim().takeIf { it.isNotEmpty() },
                limit = pageSize.toUInt(),
                offset = offset.toUInt(),
            ),
        )
    }

    /** A new search (the first page). */
    fun search(query: String = state.query, category: Category? = state.category) {
        val mine = generation.incrementAndGet()
        update { it.copy(query = query, category = category) }
        val rows = page(query, category, 0) ?: return
        update { if (generation.get() != mine) it else it.copy(items = rows, canLoadMore = rows.size == pageSize, error = null) }
    }

    /** The next page of the current search. */
    fun loadMore() {
        val mine = generation.get()
        val s = state
        if (!s.canLoadMore) return
        val rows = page(s.query, s.category, s.items.size) ?: return
        update {
            // Only onto the list it was asked for (not a newer search, not a page already added).
            if (generation.get() != mine || it.items.size != s.items.size) it
            else it.copy(items = it.items + rows, canLoadMore = rows.size == pageSize, error = null)
        }
    }
}
