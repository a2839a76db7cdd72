// The surface #6 added for the screens, through the Kotlin bindings: the dispatch picker's
// departments, my hazards across premises, and sign-out: a refused wipe with its field, the
// wipe after a real sync, and the server-side logout.
package org.firegrid.ffi.test

import java.io.File
import org.firegrid.ffi.AnswerResult
import org.firegrid.ffi.Category
import org.firegrid.ffi.DepartmentKind
import org.firegrid.ffi.FiregridException
import org.firegrid.ffi.FiregridStore
import org.firegrid.ffi.HazardStatus
import org.firegrid.ffi.PhotoRef
import org.firegrid.ffi.PremisesFilter
import org.firegrid.ffi.SyncClient
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

class SignOutTest {
    /** A finished inspection with one failed item (a hazard draft); returns the hazard id. */
    private fun failedInspection(store: FiregridStore): String {
        val shop = store.listPremises(PremisesFilter(category = Category.STREET_SHOP))[0]
        val insp = store.startInspection(shop.id)
        val checklist = store.checklist(insp.checklistId, insp.checklistVersion)
        val failed = insp.items.first { id -> checklist.items.first { it.id == id }.photoRequiredOnFail }
        for (item in insp.items) store.answer(insp.id, item, if (item == failed) AnswerResult.FAIL else AnswerResult.PASS)
        store.attachPhoto(insp.id, failed, PhotoRef(sha256 = "c3".repeat(32)))
        return store.finishInspection(insp.id).hazards.single()
    }

    @Test
    fun departmentsAndMyHazardsCross() {
        newStore().use { store ->
            val departments = store.departments()
            assertTrue(departments.isNotEmpty())
            assertEquals(departments.map { it.id }.sorted(), departments.map { it.id })
            assertTrue(departments.all { it.name.zh.isNotEmpty() && it.name.en.isNotEmpty() })
            assertTrue(departments.any { it.kind == DepartmentKind.POLICE })

            try {
                store.myHazards()
                fail("my hazards needs a signed-in user")
            } catch (e: FiregridException.NotSignedIn) {
                // expected
            }
            store.setCurrentUser(PATROLLER)
            val a = failedInspection(store)
            val b = failedInspection(store)
            assertEquals(setOf(a, b), store.myHazards().map { it.id }.toSet())
            assertEquals(2, store.myHazards(status = HazardStatus.DISCOVERED).size)
            assertEquals(0, store.myHazards(status = HazardStatus.CLOSED).size)
            assertEquals(1, store.myHazards(limit = 1u).size)
            assertEquals(1, store.myHazards(limit = 1u, offset = 1u).size)
            try {
                store.myHazards(limit = 0u)
                fail("a zero page is invalid")
            } catch (e: FiregridException.Invalid) {
                assertEquals("limit", e.field)
            }
        }
    }

    @Test
    fun aWipeIsRefusedUntilSyncedThenRemovesEverythingAndTheLoginEnds() {
        SyncClient(TestServer.url).use { client ->
            val db = File(tempDir("firegrid-wipe"), "firegrid.db")
            FiregridStore.open(db.path).use { phone ->
                phone.importFixtures(fixtures)
                val login = phone.login(client, PATROLLER, SAMPLE_PASSWORD)
                phone.setCurrentUser(login.user.id)
                val hazard = failedInspection(phone)
                val photos = File(db.path + ".photos") // Store::photo_dir, beside the database
                photos.mkdirs()
                File(photos, "ab.jpg").writeBytes(byteArrayOf(1, 2, 3))

                try {
                    phone.signOutAndWipe(force = false)
                    fail("unsynced changes must refuse the wipe")
                } catch (e: FiregridException.UnsyncedChanges) {
                    assertEquals(2uL, e.records) // the inspection and its hazard
                }
                assertEquals(hazard, phone.hazard(hazard).id)

                phone.sync(client, login.session.accessToken)
                assertEquals(0uL, phone.unsyncedCount())
                val report = phone.signOutAndWipe(force = false)
                assertTrue(report.records > 2uL)
                assertEquals(0uL, report.unsyncedDropped)
                assertEquals(1uL, report.photos)
                assertTrue(!photos.exists())
                assertEquals(null, phone.currentUser())
                try {
                    phone.hazard(hazard)
                    fail("the wipe removes the hazard")
                } catch (e: FiregridException.NotFound) {
                    assertEquals(hazard, e.id)
                }

                client.logout(login.session.accessToken)
                try {
                    phone.sync(client, login.session.accessToken)
                    fail("the access token must be revoked")
                } catch (e: FiregridException.Unauthorized) {
                    assertTrue(e.detail.isNotEmpty())
                }
                // The same phone, a new user: the wiped store holds no users until it syncs.
                val next = phone.login(client, OFFICE, SAMPLE_PASSWORD)
                try {
                    phone.setCurrentUser(next.user.id)
                    fail("no user records before the first sync")
                } catch (e: FiregridException.NotFound) {
                    assertEquals("user", e.kind)
                }
                phone.sync(client, next.session.accessToken)
                phone.setCurrentUser(next.user.id)
                assertEquals(hazard, phone.hazard(hazard).id)
                assertTrue(phone.departments().isNotEmpty())
            }
        }
    }
}
