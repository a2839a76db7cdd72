// The hazard detail's before/after pairs on the JVM against the real server: a patroller's
// hazard and fix photos (camera files through the real pipeline) reach the office's phone as
// records only; the detail fetches the missing thumbnails on demand, shows the distance and
// flags the verification photo taken a kilometre away. Offline, the pairs say the photos come
// later.
package org.firegrid.model

import java.util.concurrent.CopyOnWriteArrayList
import org.firegrid.ffi.FiregridStore
import org.firegrid.ffi.HazardAction
import org.firegrid.ffi.HazardStatus
import org.firegrid.ffi.NewHazard
import org.firegrid.ffi.PremisesFilter
import org.firegrid.ffi.Severity
import org.firegrid.ffi.test.SAMPLE_PASSWORD
import org.firegrid.ffi.test.TestServer
import org.firegrid.ffi.test.newStore
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test

/** Users of their own (the server limits logins per user per minute; other tests use u.gp001). */
private const val PATROLLER = "u.gp002"
private const val PATROLLER_GRID = "grid.01.2"
private const val OFFICE = "u.so002"

class HazardDetailModelTest {
    private fun signedIn(store: FiregridStore, user: String): Session =
        Session(MemoryTokenVault()).also { SignInModel(store, it, en).signIn(TestServer.url, user, SAMPLE_PASSWORD) }

    /** The patroller's phone: a hazard with its camera photo and a fix, all uploaded. */
    private fun fixedHazard(phone: FiregridStore): Pair<String, org.firegrid.ffi.PhotoRef> {
        val session = signedIn(phone, PATROLLER)
        val shop = phone.listPremises(PremisesFilter(grid = PATROLLER_GRID, limit = 1u)).first()
        val before = phone.addPhoto(cameraJpeg, true)
        assertNotNull(before.location)
        val hazard = phone.reportHazard(
            NewHazard(premisesId = shop.id, description = "疏散通道堆放杂物", severity = Severity.SERIOUS, photos = listOf(before)),
        )
        // The fix photo, taken where the hazard was found.
        val fix = phone.addPhoto(drawnPicture(1), false).copy(location = before.location)
        phone.hazardAction(hazard.id, HazardAction.ReportFix(listOf(fix), "已清理通道"))
        SyncStatusModel(phone, session, en).use { sync ->
            assertNotNull(sync.syncBlocking())
            assertNull(sync.state.error)
            assertEquals(0uL, sync.state.photosWaiting)
        }
        return hazard.id to before
    }

    @Test
    fun theOfficeSeesTheBeforeAfterPairsFetchedOnDemandWithTheFarFlag() {
        newStore().use { phone ->
            newStore().use { office ->
                val (hazard, before) = fixedHazard(phone)
                val session = signedIn(office, OFFICE)
                val detail = HazardDetailModel(office, session, zh)
                detail.open(hazard)
                assertTrue("not on the office's phone before its sync", detail.state.error!!.contains(hazard))

                SyncStatusModel(office, session, en).use { assertNotNull(it.syncBlocking()) }
                // The verification photo comes from a kilometre away.
                val loc = before.location!!
                val far = office.addPhoto(otherPicture, false).copy(location = loc.copy(lat = loc.lat + 0.01))
                office.hazardAction(hazard, HazardAction.Verify(listOf(far), null))

                val seen = CopyOnWriteArrayList<HazardDetailState>()
                detail.observe { seen.add(it) }.use { detail.open(hazard) }
                val s = detail.state
                assertNull(s.error)
                assertEquals(HazardStatus.VERIFIED, s.status)
                assertEquals("已核查", s.statusText)
                assertEquals(2, s.pairs.size)
                val (fixPair, verifyPair) = s.pairs
                assertEquals("整改后", fixPair.kindText)
                assertEquals("核查时", verifyPair.kindText)
                assertEquals(before.sha256, fixPair.before.sha256)
                assertEquals(before.sha256, verifyPair.before.sha256)
                for (p in s.pairs) {
                    assertTrue("before thumbnail shown", isJpeg(p.before.thumbnail))
                    assertTrue("after thumbnail shown", isJpeg(p.after.thumbnail))
                    assertEquals("", p.before.placeholder)
                }
                assertEquals("与整改前照片相距 0 米", fixPair.distanceText)
                assertFalse(fixPair.far)
                assertNull(fixPair.farText)
                assertTrue(verifyPair.distanceM!! > 1_000.0)
                assertTrue(verifyPair.far)
                assertEquals("拍摄地点距整改前照片过远，已标记待核实", verifyPair.farText)

                // The photos taken on the other phone were missing, shown as downloading, then fetched.
                assertTrue(seen.any { st -> st.pairs.any { it.before.thumbnail == null && it.before.placeholder == "正在下载照片…" } })
                assertNotNull(office.photoBytes(before.sha256))
                assertEquals("only its own verification photo waits: fetched ones are not uploaded again", 1uL, office.photoUploadCount())

                // Opened again, everything is on the phone: nothing to fetch.
                HazardDetailModel(office, Session(MemoryTokenVault()), en).apply { open(hazard) }.state.let { again ->
                    assertNull(again.error)
                    assertEquals("0 m from the before photo", again.pairs[0].distanceText)
                    assertTrue(again.pairs.all { isJpeg(it.before.thumbnail) && isJpeg(it.after.thumbnail) })
                }
            }
        }
    }

    @Test
    fun offlineThePairsSayThePhotosComeLater() {
        newStore().use { phone ->
            newStore().use { office ->
                val (hazard, _) = fixedHazard(phone)
                val vault = MemoryTokenVault()
                val session = Session(vault)
                SignInModel(office, session, en).signIn(TestServer.url, OFFICE, SAMPLE_PASSWORD)
                SyncStatusModel(office, session, en).use { assertNotNull(it.syncBlocking()) }
                vault.save(vault.load()!!.copy(serverUrl = "http://127.0.0.1:1"))
                val detail = HazardDetailModel(office, session, en)
                detail.open(hazard)
                assertEquals("The server cannot be reached; saved on the phone, it syncs later", detail.state.error)
                val pair = detail.state.pairs.single()
                assertNull(pair.before.thumbnail)
                assertNull(pair.after.thumbnail)
                assertEquals("The photo is not available yet (it downloads when online)", pair.before.placeholder)
                assertEquals("The photo is not available yet (it downloads when online)", pair.after.placeholder)
                assertEquals("0 m from the before photo", pair.distanceText)
            }
        }
    }
}
