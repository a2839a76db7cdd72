// The inspection form's view model on the JVM, against a real store with the fixtures: every
// category's form, pass / fail / n.a., notes, camera photos through the pipeline, and the
// refused finish that points at the items to fix. Photos go through the real pipeline with the
// camera files of fixtures/photos: thumbnails shown, junk and HEIC refused in both languages.
package org.firegrid.model

import org.firegrid.ffi.AnswerResult
import org.firegrid.ffi.Category
import org.firegrid.ffi.PremisesFilter
import org.firegrid.ffi.test.OFFICE
import org.firegrid.ffi.test.PATROLLER
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test

class InspectionFormModelTest {
    @Test
    fun aFailedItemWithoutItsPhotoIsPointedOutThenTheCameraPhotoLetsItFinish() {
        storeAs(PATROLLER).use { store ->
            val shop = store.listPremises(PremisesFilter(category = Category.STREET_SHOP))[0]
            val taken = mutableListOf<ByteArray>()
            val model = InspectionFormModel(store, en, pipeline(store, taken = taken))
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
                assertTrue(model.state.error!!, model.state.error!!.startsWith("note:"))

                model.finish()
                assertEquals(listOf(failed.id), model.state.needsAttention)
                assertEquals("0 unanswered, 1 without the required photo", model.state.error)
                assertNull(model.state.finishedHazards)

                // Files the pipeline refuses attach nothing and say why, in the user's language.
                val unusable = "This picture cannot be used (not a photo, an unsupported format or a damaged file): take it again"
                for (junk in listOf(ByteArray(0), "not a photo".toByteArray(), cameraFile("truncated.jpg"), cameraFile("heic-header.heic"), cameraFile("bomb-100000x100000.png"))) {
                    model.capture(failed.id, junk)
                    assertEquals(unusable, model.state.error)
                }
                assertEquals(emptyList<String>(), model.state.items.first { it.id == failed.id }.photos)

                model.capture(failed.id, cameraJpeg)
                assertNull(model.state.error)
                model.capture(failed.id, cameraJpeg) // the same picture twice: one photo
                model.capture(failed.id, otherPicture)
                val row = model.state.items.first { it.id == failed.id }
                val photos = row.photos
                assertEquals(2, photos.size)
                assertEquals(8, taken.size)
                assertEquals(photos.toSet(), row.thumbnails.keys)
                for (sha in photos) {
                    assertTrue("a JPEG thumbnail", isJpeg(row.thumbnails[sha]))
                    assertTrue(row.thumbnails[sha]!!.size < store.photoBytes(sha).size)
                }
                model.removePhoto(failed.id, photos[1])
                assertEquals(photos.take(1), model.state.items.first { it.id == failed.id }.photos)
                assertEquals(photos.take(1).toSet(), model.state.items.first { it.id == failed.id }.thumbnails.keys)

                model.finish()
                assertEquals(1, model.state.finishedHazards!!.size)
                assertNull(model.state.error)
                val saved = store.inspection(model.state.inspectionId!!).answers[failed.id]!!
                assertEquals(AnswerResult.FAIL, saved.result)
                assertEquals(photos.take(1), saved.photos.map { it.sha256 })

                model.answer(failed.id, AnswerResult.PASS)
                assertEquals("The inspection is finished", model.state.error)
            }
            assertTrue("observers saw every change", seen.size > model.state.items.size)
        }
    }

    @Test
    fun eachCategoryHasItsFormAndNotApplicableCounts() {
        storeAs(OFFICE).use { store ->
            for (category in Category.entries) {
                val premises = store.listPremises(PremisesFilter(category = category, limit = 1u))
                assertTrue("the sample has $category premises", premises.isNotEmpty())
                val model = InspectionFormModel(store, zh, pipeline(store))
                model.start(premises[0].id)
                assertNull(model.state.error)
                assertTrue(model.state.title.isNotEmpty())
                for (item in model.state.items) model.answer(item.id, AnswerResult.NOT_APPLICABLE)
                assertTrue(model.state.items.all { it.result == AnswerResult.NOT_APPLICABLE })
                model.finish()
                assertEquals("$category", emptyList<String>(), model.state.finishedHazards)
            }
        }
    }

    @Test
    fun withoutAStartedInspectionTheFormSaysSo() {
        storeAs(PATROLLER).use { store ->
            val model = InspectionFormModel(store, zh, pipeline(store))
            model.answer("item", AnswerResult.PASS)
            assertEquals("请先开始检查", model.state.error)
            model.capture("item", cameraJpeg)
            assertEquals("请先开始检查", model.state.error)
            model.start("prem.missing")
            assertTrue(model.state.error!!, model.state.error!!.contains("prem.missing"))
            val shop = store.listPremises(PremisesFilter(category = Category.STREET_SHOP))[0]
            model.start(shop.id)
            model.capture(model.state.items[0].id, cameraFile("heic-header.heic"))
            assertEquals("无法使用这张照片（不是照片、格式不支持或文件已损坏），请重新拍摄", model.state.error)
        }
    }
}
