// Evidence photos through the Kotlin bindings against a real server: a camera JPEG from
// fixtures/photos becomes a PhotoRef in one call, is attached to a hazard, uploaded by the
// photo sync (progress reported, document sync usable meanwhile), and fetched by the office's
// store, thumbnail first. Junk bytes and unknown hashes arrive as typed exceptions with fields.
package org.firegrid.ffi.test

import java.io.File
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicReference
import org.firegrid.ffi.FiregridException
import org.firegrid.ffi.FiregridStore
import org.firegrid.ffi.NewHazard
import org.firegrid.ffi.PhotoFetchListener
import org.firegrid.ffi.PhotoSyncListener
import org.firegrid.ffi.PhotoSyncProgress
import org.firegrid.ffi.PhotoSyncReport
import org.firegrid.ffi.PremisesFilter
import org.firegrid.ffi.Severity
import org.firegrid.ffi.SyncClient
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

class PhotoTest {
    private val camera: ByteArray get() = File(fixtures, "photos/exif-orientation-6-gps.jpg").readBytes()

    private fun signIn(store: FiregridStore, client: SyncClient, user: String): String {
        val login = store.login(client, user, SAMPLE_PASSWORD)
        store.setCurrentUser(login.user.id)
        return login.session.accessToken
    }

    private fun isJpeg(bytes: ByteArray) =
        bytes.size > 4 && bytes[0] == 0xFF.toByte() && bytes[1] == 0xD8.toByte()

    @Test
    fun aCameraPhotoIsAddedUploadedAndFetchedThumbnailFirst() {
        SyncClient(TestServer.url).use { client ->
            newStore().use { phone ->
                newStore().use { office ->
                    walk(client, phone, office)
                }
            }
        }
    }

    private fun walk(client: SyncClient, phone: FiregridStore, office: FiregridStore) {
        val token = signIn(phone, client, PATROLLER)

        // Camera file → PhotoRef in one call; the position only when allowed.
        val photo = phone.addPhoto(camera, true)
        assertEquals(64, photo.sha256.length)
        assertNotNull("kept when allowed", photo.location)
        assertNotNull(photo.capturedAtMs)
        assertNull(phone.addPhoto(camera, false).location)
        val bytes = phone.photoBytes(photo.sha256)
        assertTrue(isJpeg(bytes))
        val thumb = phone.photoThumbnail(photo.sha256)
        assertTrue(isJpeg(thumb) && thumb.size < bytes.size)

        // Junk and unknown hashes: typed exceptions with their fields.
        try {
            phone.addPhoto("not a photo at all".toByteArray(), false)
            fail("junk bytes must be refused")
        } catch (e: FiregridException.Invalid) {
            assertEquals("photo", e.field)
            assertTrue(e.reason.isNotEmpty())
        }
        try {
            phone.photoBytes("0".repeat(64))
            fail("an unknown photo is not found")
        } catch (e: FiregridException.NotFound) {
            assertEquals("photo", e.kind)
            assertEquals("0".repeat(64), e.id)
        }
        try {
            phone.photoThumbnail("../not-a-hash")
            fail("a malformed hash is invalid")
        } catch (e: FiregridException.Invalid) {
            assertTrue(e.field.contains("sha256"))
        }

        // Attached to a hazard, synced, then uploaded by the photo sync.
        val shop = phone.listPremises(PremisesFilter()).first()
        val hazard = phone.reportHazard(
            NewHazard(premisesId = shop.id, description = "疏散通道堆放杂物", severity = Severity.SERIOUS, photos = listOf(photo)),
        )
        assertEquals(1UL, phone.photoUploadCount())
        phone.sync(client, token)

        // The photo sync runs on a background thread; while it reports progress (held in its
        // callback), this thread's document sync goes through and a second photo sync is refused.
        val inProgress = CountDownLatch(1)
        val mayContinue = CountDownLatch(1)
        val seen = mutableListOf<PhotoSyncProgress>()
        val listener = object : PhotoSyncListener {
            override fun onProgress(progress: PhotoSyncProgress) {
                synchronized(seen) { seen.add(progress) }
                inProgress.countDown()
                mayContinue.await(60, TimeUnit.SECONDS)
            }
        }
        val result = AtomicReference<Any>()
        val uploader = Thread({
            result.set(runCatching { phone.syncPhotos(client, token, 3U, listener) }.fold({ it }, { it }))
        }, "photo-sync")
        uploader.start()
        assertTrue("the photo sync reports progress", inProgress.await(120, TimeUnit.SECONDS))
        phone.reportHazard(NewHazard(premisesId = shop.id, description = "灭火器过期", severity = Severity.GENERAL))
        assertTrue("document sync works while photos upload", phone.sync(client, token).refused.isEmpty())
        try {
            phone.syncPhotos(client, token)
            fail("a second photo sync must be refused")
        } catch (_: FiregridException.AlreadySyncing) {
        }
        mayContinue.countDown()
        uploader.join(120_000)
        val report = result.get() as? PhotoSyncReport ?: throw AssertionError("photo sync failed: ${result.get()}")
        assertEquals(1UL, report.uploaded)
        assertTrue(report.refused.isEmpty())
        assertEquals(0UL, phone.photoUploadCount())
        assertTrue(phone.photoRefusals().isEmpty())
        val last = synchronized(seen) { seen.last() }
        assertEquals(last.bytesTotal, last.bytesDone)
        assertEquals(1UL, last.photosDone)

        // The office's store has the hazard after its sync, not the photo: fetched on demand,
        // the thumbnail first (heard by the listener before the call returns).
        val officeToken = signIn(office, client, OFFICE)
        office.sync(client, officeToken)
        assertEquals(listOf(photo.sha256), office.hazard(hazard.id).photos.map { it.sha256 })
        try {
            office.photoBytes(photo.sha256)
            fail("not on the office's device yet")
        } catch (e: FiregridException.NotFound) {
            assertEquals("photo", e.kind)
        }
        val thumbnails = mutableListOf<String>()
        val fetch = office.fetchPhoto(client, officeToken, photo.sha256, true, object : PhotoFetchListener {
            override fun onThumbnail(sha256: String) {
                synchronized(thumbnails) { thumbnails.add(sha256) }
                // Shown at once, while the photo is still on its way.
                assertTrue(isJpeg(office.photoThumbnail(sha256)))
            }
        })
        assertTrue(fetch.thumbnailFetched && fetch.photoFetched && !fetch.alreadyHeld)
        assertEquals(listOf(photo.sha256), thumbnails)
        assertArrayEquals(bytes, office.photoBytes(photo.sha256))
        assertTrue(office.fetchPhoto(client, officeToken, photo.sha256, true).alreadyHeld)
        assertEquals("fetched photos are never uploaded again", 0UL, office.photoUploadCount())

        // A hash no record on the device references is not fetched.
        try {
            office.fetchPhoto(client, officeToken, "ab".repeat(32), false)
            fail("no record references it")
        } catch (e: FiregridException.NotFound) {
            assertEquals("photo", e.kind)
        }
        assertFalse(thumbnails.isEmpty())
    }
}
