// Premises search on the JVM against a real store: the category filter, text, and paging that
// returns every premises of the area exactly once.
package org.firegrid.model

import org.firegrid.ffi.Category
import org.firegrid.ffi.PremisesFilter
import org.firegrid.ffi.test.PATROLLER
import org.firegrid.ffi.test.newStore
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Test

class PremisesSearchModelTest {
    @Test
    fun pagesWalkTheWholeFilteredListOnce() {
        storeAs(PATROLLER).use { store ->
            val all = store.listPremises(PremisesFilter(category = Category.STREET_SHOP))
            assertTrue("need several pages", all.size > 4)
            val model = PremisesSearchModel(store, en, pageSize = 2)
            model.search("", Category.STREET_SHOP)
            assertEquals(2, model.state.items.size)
            var pages = 1
            while (model.state.canLoadMore) {
                model.loadMore()
                pages++
                assertTrue(pages <= all.size + 1)
            }
            assertEquals(all.map { it.id }, model.state.items.map { it.id })
            assertTrue(model.state.items.all { it.category == Category.STREET_SHOP })
            model.loadMore() // at the end: nothing changes
            assertEquals(all.size, model.state.items.size)
        }
    }

    @Test
    fun textNarrowsTheSearchAndANewSearchStartsOver() {
        storeAs(PATROLLER).use { store ->
            val model = PremisesSearchModel(store, en, pageSize = 50)
            model.search("", null)
            val first = model.state.items.first()
            val word = first.name.take(2)
            model.search(word)
            assertTrue(model.state.items.isNotEmpty())
            assertTrue(model.state.items.all { word in it.name || word in it.address })
            assertTrue(first.id in model.state.items.map { it.id })
            model.search("没有这样的场所名称")
            assertEquals(emptyList<Any>(), model.state.items)
            assertFalse(model.state.canLoadMore)
            model.search("x".repeat(101), null)
            assertTrue(model.state.error!!, model.state.error!!.startsWith("text:"))
        }
    }

    @Test
    fun searchesRacingFromSeveralThreadsShowTheNewestOnly() {
        storeAs(PATROLLER).use { store ->
            val model = PremisesSearchModel(store, en, pageSize = 5)
            val threads = (0 until 8).map { n ->
                Thread { repeat(20) { model.search(if (n % 2 == 0) "" else "没有这样的场所名称", null); model.loadMore() } }
            }
            threads.forEach { it.start() }
            threads.forEach { it.join() }
            model.search("", Category.STREET_SHOP)
            val expected = store.listPremises(PremisesFilter(category = Category.STREET_SHOP, limit = 5u)).map { it.id }
            assertEquals(expected, model.state.items.map { it.id })
            model.loadMore()
            val ids = model.state.items.map { it.id }
            assertEquals("no page twice", ids.distinct(), ids)
        }
    }

    @Test
    fun nobodySignedInIsAMessageNotACrash() {
        newStore().use { store ->
            val model = PremisesSearchModel(store, zh)
            model.search("面")
            assertEquals("请先登录", model.state.error)
            assertEquals(emptyList<Any>(), model.state.items)
        }
    }
}
