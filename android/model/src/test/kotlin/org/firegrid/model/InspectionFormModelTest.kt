// The inspection form's view model on the JVM, against a real store with the fixtures.
package org.firegrid.app

import java.io.File
import java.nio.file.Files
import org.firegrid.ffi.AnswerResult
import org.firegrid.ffi.Category
import org.firegrid.ffi.FiregridStore
import org.firegrid.ffi.PhotoRef
import org.firegrid.ffi.PremisesFilter
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test

class InspectionFormModelTest {
    private fun store(): FiregridStore {
        val dir = Files.createTempDirectory("firegrid-app").toFile()
        val store = FiregridStore.open(File(dir, "firegrid.db").path)
        store.importFixtures(System.getProperty("firegrid.fixtures"))
        store.setCurrentUser("u.gp001")
        return store
    }

    @Test
    fun aFailedItemWithoutItsPhotoIsPointedOutThenTheInspectionFinishes() {
        store().use { store ->
            val shop = store.listPremises(PremisesFilter(category = Category.STREET_SHOP))[0]
            val model = InspectionFormModel(store, language = "en")
            val seen = mutableListOf<InspectionFormState>()
            model.observe { seen.add(it) }.use {
                model.start(shop.id)
                val items = model.state.items
                assertTrue(items.isNotEmpty() && model.state.title.isNotEmpty())
                val failed = items.first { it.photoRequiredOnFail }
                for (item in items) {
                    model.answer(item.id, if (item == failed) AnswerResult.FAIL else AnswerResult.PASS, "")
                }
                model.answer(failed.id, AnswerResult.FAIL, "x".repeat(2_001))
                assertTrue(model.state.error!!.startsWith("note:"))

                model.finish()
                assertEquals(listOf(failed.id), model.state.needsAttention)
                assertEquals("0 unanswered, 1 without the required photo", model.state.error)
                assertNull(model.state.finishedHazards)

                model.attachPhoto(failed.id, PhotoRef(sha256 = "ef".repeat(32)))
                assertEquals(1, model.state.items.first { it.id == failed.id }.photos)
                model.finish()
                assertEquals(1, model.state.finishedHazards!!.size)
                assertNull(model.state.error)
                assertEquals(AnswerResult.FAIL, store.inspection(model.state.inspectionId!!).answers[failed.id]!!.result)
            }
            assertTrue("observers saw every change", seen.size > model.state.items.size)
        }
    }
}
