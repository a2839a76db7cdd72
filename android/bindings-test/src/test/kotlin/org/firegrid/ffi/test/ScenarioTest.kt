// The field scenario through the Kotlin bindings against a real server: a grid patroller
// inspects a shop with a failed item and a photo, syncs on a background thread while the
// store stays usable, the office sees the hazard on a second phone and files it, and the
// patroller gets it back with a deadline and reports the fix.
package org.firegrid.ffi.test

import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicReference
import org.firegrid.ffi.AnswerResult
import org.firegrid.ffi.Category
import org.firegrid.ffi.FiregridException
import org.firegrid.ffi.FiregridStore
import org.firegrid.ffi.GeoPoint
import org.firegrid.ffi.HazardAction
import org.firegrid.ffi.HazardStatus
import org.firegrid.ffi.PhotoRef
import org.firegrid.ffi.PremisesFilter
import org.firegrid.ffi.Role
import org.firegrid.ffi.ScopeKind
import org.firegrid.ffi.SyncClient
import org.firegrid.ffi.SyncProgress
import org.firegrid.ffi.SyncProgressListener
import org.firegrid.ffi.SyncReport
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

class ScenarioTest {
    private val before = PhotoRef(sha256 = "ef".repeat(32), capturedAtMs = 1_760_000_000_000, location = GeoPoint(31.25, 121.40))
    private val after = PhotoRef(sha256 = "a1".repeat(32), location = GeoPoint(31.25, 121.40, accuracyM = 5.0))

    private fun signIn(store: FiregridStore, client: SyncClient, user: String): String {
        val login = store.login(client, user, SAMPLE_PASSWORD)
        assertEquals(user, login.session.userId)
        assertEquals(store.deviceId(), login.session.deviceId)
        store.setCurrentUser(login.user.id)
        return login.session.accessToken
    }

    @Test
    fun aFailedItemBecomesAHazardTheOfficeFilesAndThePatrollerFixes() {
        SyncClient(TestServer.url).use { client ->
            newStore().use { phoneA ->
                newStore().use { phoneB ->
                    walk(client, phoneA, phoneB)
                }
            }
        }
    }

    private fun walk(client: SyncClient, a: FiregridStore, b: FiregridStore) {
        // Sign-in: a wrong password is a typed exception; the right one gives tokens.
        try {
            a.login(client, PATROLLER, "wrong password")
            fail("a wrong password must be refused")
        } catch (e: FiregridException.Unauthorized) {
            assertTrue(e.detail.isNotEmpty())
        }
        val tokenA = signIn(a, client, PATROLLER)
        val user = a.currentUser()!!
        assertEquals(Role.GRID_PATROLLER, user.role)
        assertEquals(ScopeKind.GRID, user.scope.kind)

        // Premises search in the patroller's grid.
        val shops = a.listPremises(PremisesFilter(category = Category.STREET_SHOP))
        assertTrue("the grid has street shops", shops.isNotEmpty())
        assertTrue(shops.all { it.grid == user.scope.id && it.category == Category.STREET_SHOP })
        val shop = a.premises(shops.first().id)
        assertEquals(shops.first().name, shop.name)

        // The inspection: every item answered, one failed with a note.
        val insp = a.startInspection(shop.id, GeoPoint(31.25, 121.40))
        val checklist = a.checklist(insp.checklistId, insp.checklistVersion)
        assertEquals(checklist, a.currentChecklistFor(shop.id))
        val failed = insp.items.first { id -> checklist.items.first { it.id == id }.photoRequiredOnFail }
        for (item in insp.items) {
            if (item == failed) a.answer(insp.id, item, AnswerResult.FAIL, "出口被货物堵塞")
            else a.answer(insp.id, item, AnswerResult.PASS)
        }
        try {
            a.finishInspection(insp.id)
            fail("a failed item without its photo must block finishing")
        } catch (e: FiregridException.IncompleteInspection) {
            assertEquals(listOf(failed), e.missingPhotos)
            assertEquals(emptyList<String>(), e.unanswered)
        }
        a.attachPhoto(insp.id, failed, before)
        val finished = a.finishInspection(insp.id, GeoPoint(31.25, 121.40))
        assertEquals(1, finished.hazards.size)
        val hazardId = finished.hazards[0]
        val stored = a.inspection(insp.id)
        assertEquals(AnswerResult.FAIL, stored.answers[failed]!!.result)
        assertEquals(listOf(before), stored.answers[failed]!!.photos)
        assertEquals(listOf(hazardId), stored.hazards)
        assertEquals(2UL, a.unsyncedCount())

        // Sync is blocking: it runs on a background thread; while it is in progress (held in
        // its progress callback) this thread reads and writes the same store, and a second
        // sync is refused.
        val inProgress = CountDownLatch(1)
        val mayContinue = CountDownLatch(1)
        val callbackThreads = mutableSetOf<String>()
        val rounds = mutableListOf<SyncProgress>()
        val listener = object : SyncProgressListener {
            override fun onProgress(progress: SyncProgress) {
                synchronized(rounds) {
                    rounds.add(progress)
                    callbackThreads.add(Thread.currentThread().name)
                }
                inProgress.countDown()
                mayContinue.await(60, TimeUnit.SECONDS)
            }
        }
        val result = AtomicReference<Any>()
        val syncThread = Thread({
            result.set(runCatching { a.sync(client, tokenA, listener) }.fold({ it }, { it }))
        }, "sync-thread")
        syncThread.start()
        assertTrue("the sync reports progress", inProgress.await(120, TimeUnit.SECONDS))
        assertTrue(syncThread.isAlive)
        assertEquals(shops.map { it.id }, a.listPremises(PremisesFilter(category = Category.STREET_SHOP)).map { it.id })
        assertEquals(HazardStatus.DISCOVERED, a.hazardCase(hazardId).state.status)
        val second = a.startInspection(shops.last().id)
        try {
            a.sync(client, tokenA)
            fail("a second sync of the same store must be refused")
        } catch (_: FiregridException.AlreadySyncing) {
        }
        mayContinue.countDown()
        syncThread.join(120_000)
        val report = result.get() as? SyncReport ?: throw AssertionError("sync failed", result.get() as Throwable)
        // The two records of the inspection, then the one started during the sync (pushed
        // in the next round of the same sync).
        assertEquals(3UL, report.acknowledged)
        assertEquals(0UL, a.unsyncedCount())
        assertEquals(report.rounds.toInt(), rounds.size)
        assertEquals(setOf("sync-thread"), callbackThreads)
        assertTrue(report.refused.isEmpty())

        // The office's phone sees the hazard after its sync and files it with a deadline
        // already past; a close now is refused with the reason in the exception's fields.
        val tokenB = signIn(b, client, OFFICE)
        val reportB = b.syncWithRetry(client, tokenB, 3u)
        assertTrue(reportB.touched >= 2UL)
        val seen = b.hazardCase(hazardId)
        assertEquals(HazardStatus.DISCOVERED, seen.state.status)
        assertEquals(failed, seen.hazard.origin.itemId)
        assertEquals(insp.id, seen.hazard.origin.inspectionId)
        assertEquals(listOf(before), seen.hazard.photos)
        assertEquals(hazardId, b.listHazards(shop.id).first { it.id == hazardId }.id)
        val overdueAt = System.currentTimeMillis() - 3_600_000
        val filed = b.hazardAction(hazardId, HazardAction.File(deadlineMs = overdueAt, note = "立案"))
        assertEquals(HazardStatus.FILED, filed.state.status)
        assertEquals(overdueAt, filed.state.deadlineMs)
        try {
            b.hazardAction(hazardId, HazardAction.Close(note = null))
            fail("a filed case cannot be closed")
        } catch (e: FiregridException.HazardTransition) {
            assertEquals(hazardId, e.hazardId)
            assertEquals("closed", e.action)
            assertEquals("filed", e.status)
            assertTrue(e.reason.isNotEmpty())
        }
        b.sync(client, tokenB)

        // Back on the patroller's phone: the case is filed and overdue in the reminders; the
        // patroller may not file, needs an after photo to report the fix, and reports it.
        a.sync(client, tokenA)
        assertEquals(HazardStatus.FILED, a.listHazards(shop.id).first { it.id == hazardId }.status)
        val reminders = a.hazardReminders(System.currentTimeMillis(), 480)
        assertTrue(reminders.overdue.any { it.id == hazardId })
        try {
            a.hazardAction(hazardId, HazardAction.File(deadlineMs = null, note = null))
            fail("a patroller may not file")
        } catch (e: FiregridException.Forbidden) {
            assertTrue(e.detail.isNotEmpty())
        }
        try {
            a.hazardAction(hazardId, HazardAction.ReportFix(photos = emptyList<PhotoRef>(), note = "已清理"))
            fail("a fix needs an after photo")
        } catch (e: FiregridException.Invalid) {
            assertEquals("photos", e.field)
        }
        val fixed = a.hazardAction(hazardId, HazardAction.ReportFix(photos = listOf(after), note = "已清理"))
        assertEquals(HazardStatus.HANDLED, fixed.state.status)
        assertEquals(listOf(PATROLLER), fixed.state.fixers)
        assertNotNull(fixed.hazard.events.lastOrNull { it.photos == listOf(after) })
        assertTrue(a.sync(client, tokenA).refused.isEmpty())
        b.sync(client, tokenB)
        assertEquals(HazardStatus.HANDLED, b.hazardCase(hazardId).state.status)

        // The inspection started during the sync is still there, in progress.
        assertEquals(second.id, a.inspection(second.id).id)

        // Signing out keeps the data; store calls that need a user then say so.
        a.signOut()
        try {
            a.listPremises(PremisesFilter())
            fail("listing needs a signed-in user")
        } catch (_: FiregridException.NotSignedIn) {
        }
        assertEquals(HazardStatus.HANDLED, a.hazardCase(hazardId).state.status)
    }
}
