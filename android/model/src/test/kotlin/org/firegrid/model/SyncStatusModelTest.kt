// Sync status on the JVM against the real server: the sync runs on the model's own thread,
// the progress bar moves, the last result and what waits are shown; offline and signed-out
// syncs are messages, and the unsent work stays. Photos follow the documents: their progress in
// photos and bytes, and the refusals with their reasons in the user's language.
package org.firegrid.model

import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.TimeUnit
import org.firegrid.ffi.AnswerResult
import org.firegrid.ffi.Category
import org.firegrid.ffi.NewHazard
import org.firegrid.ffi.Severity
import org.firegrid.ffi.PremisesFilter
import org.firegrid.ffi.test.PATROLLER
import org.firegrid.ffi.test.SAMPLE_PASSWORD
import org.firegrid.ffi.test.TestServer
import org.firegrid.ffi.test.newStore
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test

class SyncStatusModelTest {
    @Test
    fun aSyncRunsOffTheCallersThreadWithProgressAndAResult() {
        newStore().use { phone ->
            val vault = MemoryTokenVault()
            val session = Session(vault)
            SignInModel(phone, session, en).signIn(TestServer.url, PATROLLER, SAMPLE_PASSWORD)
            val shop = phone.listPremises(PremisesFilter(category = Category.STREET_SHOP))[0]
            for (n in 1..3) {
                val insp = phone.startInspection(shop.id, null)
                phone.answer(insp.id, insp.items[0], AnswerResult.PASS, "第 $n 次")
            }
            SyncStatusModel(phone, session, en, now = { 1_764_400_000_000 }).use { model ->
                model.refresh()
                assertEquals(3uL, model.state.unsynced)
                assertEquals("3 records waiting to sync", model.state.unsyncedText)
                assertEquals("Not synced yet", model.state.lastResult)
                val seen = CopyOnWriteArrayList<Pair<String, SyncStatusState>>()
                model.observe { seen.add(Thread.currentThread().name to it) }.use {
                    model.syncNow().get(120, TimeUnit.SECONDS)
                }
                val s = model.state
                assertNull(s.error)
                assertTrue(!s.running)
                assertEquals(1.0, s.progress!!, 0.0)
                assertEquals(0uL, s.unsynced)
                assertEquals(1_764_400_000_000, s.lastSyncMs)
                assertTrue(s.lastResult, s.lastResult.startsWith("Synced: "))
                assertEquals(emptyList<String>(), s.refusals)
                assertTrue(seen.any { it.second.running && it.second.progress == 0.0 })
                assertTrue("the sync ran on the model's thread", seen.filter { it.second.running }.all { it.first == "firegrid-sync" })
                assertTrue("progress came after every round", seen.count { it.second.running && it.second.rounds > 0u } >= 1)
                assertTrue(s.rounds >= 1u)
            }
        }
    }

    @Test
    fun offlineAndSignedOutSyncsAreMessagesAndKeepTheWork() {
        newStore().use { phone ->
            val vault = MemoryTokenVault()
            val session = Session(vault)
            SyncStatusModel(phone, session, zh).use { model ->
                assertNull(model.syncBlocking())
                assertEquals("请先登录", model.state.error)
                assertTrue(!model.state.retryable)
            }
            SignInModel(phone, session, en).signIn(TestServer.url, PATROLLER, SAMPLE_PASSWORD)
            val shop = phone.listPremises(PremisesFilter(category = Category.STREET_SHOP))[0]
            phone.startInspection(shop.id, null)
            vault.save(vault.load()!!.copy(serverUrl = "http://127.0.0.1:1"))
            SyncStatusModel(phone, session, en).use { model ->
                model.syncNow().get(120, TimeUnit.SECONDS)
                assertEquals("The server cannot be reached; saved on the phone, it syncs later", model.state.error)
                assertTrue(!model.state.running)
                assertTrue("offline: WorkManager retries", model.state.retryable)
                assertNull(model.state.lastSyncMs)
                model.refresh()
                assertEquals(1uL, model.state.unsynced)
            }
            // An expired access token is refreshed before the sync.
            val saved = vault.load()!!.copy(serverUrl = TestServer.url, accessExpiresMs = 0)
            vault.save(saved)
            SyncStatusModel(phone, session, en).use { model ->
                assertNotNull(model.syncBlocking())
                assertNull(model.state.error)
                assertTrue(vault.load()!!.accessToken != saved.accessToken)
            }
        }
    }

    @Test
    fun photosUploadAfterTheDocumentsWithProgressAndRefusalsInWords() {
        newStore().use { phone ->
            val session = Session(MemoryTokenVault())
            // A patroller of its own: the server limits logins per user per minute.
            SignInModel(phone, session, en).signIn(TestServer.url, "u.gp003", SAMPLE_PASSWORD)
            val shop = phone.listPremises(PremisesFilter(grid = "grid.01.3", limit = 1u)).first()
            val photo = phone.addPhoto(drawnPicture(2), true)
            phone.reportHazard(
                NewHazard(premisesId = shop.id, description = "疏散通道堆放杂物", severity = Severity.SERIOUS, photos = listOf(photo)),
            )
            // A photo sent before its record reached the server is refused (still queued).
            val (client, token) = session.current()!!
            val early = phone.syncPhotos(client, token, 1u, null)
            assertEquals(1, early.refused.size)
            SyncStatusModel(phone, session, zh).use { model ->
                model.refresh()
                assertEquals(1uL, model.state.photosWaiting)
                assertEquals("1 张照片待上传", model.state.photosWaitingText)
                val refusal = model.state.photoRefusals.single()
                assertTrue(refusal, refusal.startsWith(photo.sha256.take(12) + ": "))
                assertEquals(phone.photoRefusals().single().label.zh, refusal.substringAfter(": "))
                assertTrue("a reason in Chinese", refusal.substringAfter(": ").any { it.code > 0x4E00 })
            }
            SyncStatusModel(phone, session, en).use { model ->
                model.refresh()
                assertEquals(phone.photoRefusals().single().label.en, model.state.photoRefusals.single().substringAfter(": "))
                val seen = CopyOnWriteArrayList<SyncStatusState>()
                model.observe { seen.add(it) }.use {
                    model.syncNow().get(120, TimeUnit.SECONDS)
                }
                val s = model.state
                assertNull(s.error)
                assertTrue(!s.running)
                // Documents first: the records were sent before any photo progress came.
                val firstPhoto = seen.indexOfFirst { it.photoProgress != null }
                val documentsDone = seen.indexOfFirst { it.lastResult.startsWith("Synced: ") }
                assertTrue("photo progress was reported", firstPhoto >= 0)
                assertTrue("documents before photos", documentsDone in 0 until firstPhoto)
                val last = seen.last { it.photoProgress != null }
                assertEquals(1uL, last.photoProgress!!.photosDone)
                assertEquals(last.photoProgress!!.bytesTotal, last.photoProgress!!.bytesDone)
                assertEquals(1.0, last.photoFraction!!, 0.0)
                val kb = (phone.photoBytes(photo.sha256).size + 1023) / 1024
                assertEquals("Photos 1/1, $kb/$kb KB", last.photoProgressText)
                assertEquals("Photos: 1 uploaded, 0 already on the server", s.photoResult)
                assertEquals(emptyList<String>(), s.photoRefusals)
                assertEquals(0uL, s.photosWaiting)
                assertEquals("0 photos waiting to upload", s.photosWaitingText)
                assertTrue(phone.photoRefusals().isEmpty())
            }
        }
    }
}
