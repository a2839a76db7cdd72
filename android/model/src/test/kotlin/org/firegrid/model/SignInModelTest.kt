// Sign-in and sign-out on the JVM against the real server the tests start: field checks and
// server refusals as messages, tokens kept in the vault, sign-out that syncs first and wipes the
// phone, a refused wipe while changes cannot reach the server, and the forced one.
package org.firegrid.model

import org.firegrid.ffi.AnswerResult
import org.firegrid.ffi.Category
import org.firegrid.ffi.FiregridException
import org.firegrid.ffi.FiregridStore
import org.firegrid.ffi.PremisesFilter
import org.firegrid.ffi.SyncClient
import org.firegrid.ffi.test.OFFICE
import org.firegrid.ffi.test.PATROLLER
import org.firegrid.ffi.test.SAMPLE_PASSWORD
import org.firegrid.ffi.test.TestServer
import org.firegrid.ffi.test.newStore
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

class SignInModelTest {
    private fun startInspection(store: FiregridStore): String {
        val shop = store.listPremises(PremisesFilter(category = Category.STREET_SHOP))[0]
        val insp = store.startInspection(shop.id, null)
        store.answer(insp.id, insp.items[0], AnswerResult.PASS, null)
        return insp.id
    }

    @Test
    fun fieldsAndRefusalsBecomeMessages() {
        newStore().use { store ->
            val model = SignInModel(store, Session(MemoryTokenVault()), en)
            model.signIn("", PATROLLER, "x")
            assertEquals("Enter the server address", model.state.error)
            model.signIn(TestServer.url, " ", "x")
            assertEquals("Enter your user name", model.state.error)
            model.signIn(TestServer.url, PATROLLER, "")
            assertEquals("Enter your password", model.state.error)
            model.signIn("ftp://example.org", PATROLLER, "x")
            assertEquals("The server address is not valid: ftp://example.org", model.state.error)
            model.signIn(TestServer.url, PATROLLER, "wrong password")
            assertEquals("Wrong user name or password", model.state.error)
            assertNull(model.state.user)
            val zhModel = SignInModel(store, Session(MemoryTokenVault()), zh)
            zhModel.signIn("http://127.0.0.1:1", PATROLLER, SAMPLE_PASSWORD)
            assertEquals("无法连接服务器，已保存在本机，稍后自动同步", zhModel.state.error)
            assertTrue(!zhModel.state.busy)
        }
    }

    @Test
    fun signOutSyncsThenWipesAndEndsTheLogin() {
        newStore().use { phone ->
            val vault = MemoryTokenVault()
            val model = SignInModel(phone, Session(vault), en)
            model.signIn(TestServer.url, PATROLLER, SAMPLE_PASSWORD)
            assertNull(model.state.error)
            assertEquals(PATROLLER, model.state.user!!.id)
            val saved = vault.load()!!
            assertEquals(TestServer.url, saved.serverUrl)

            // The next app start finds the user signed in (offline).
            val restarted = SignInModel(phone, Session(vault), en)
            restarted.restore()
            assertEquals(PATROLLER, restarted.state.user!!.id)

            val inspection = startInspection(phone)
            model.signOut()
            assertNull(model.state.error)
            assertEquals("Signed out; this phone's data is removed", model.state.notice)
            assertNull(model.state.user)
            assertNull(vault.load())
            assertNull(phone.currentUser())
            assertEquals(0uL, phone.unsyncedCount())
            try {
                phone.inspection(inspection)
                fail("the wipe removes the inspection")
            } catch (e: FiregridException.NotFound) {
                assertEquals(inspection, e.id)
            }
            // The login is over on the server.
            SyncClient(TestServer.url).use { client ->
                try {
                    client.refresh(saved.refreshToken)
                    fail("the refresh token must be revoked")
                } catch (e: FiregridException.Unauthorized) {
                    assertTrue(e.detail.isNotEmpty())
                }
            }
            // The inspection reached the server before the wipe: the office's phone sees it.
            newStore().use { office ->
                val officeSession = Session(MemoryTokenVault())
                SignInModel(office, officeSession, en).signIn(TestServer.url, OFFICE, SAMPLE_PASSWORD)
                SyncStatusModel(office, officeSession, en).use { assertNotNull(it.syncBlocking()) }
                assertEquals(inspection, office.inspection(inspection).id)
            }
            // A new user signs in on the wiped phone and gets their data by syncing.
            model.signIn(TestServer.url, OFFICE, SAMPLE_PASSWORD)
            assertEquals(OFFICE, model.state.user?.id)
        }
    }

    @Test
    fun offlineSignOutWithUnsentWorkAsksFirstThenGivesItUpWhenForced() {
        newStore().use { phone ->
            val vault = MemoryTokenVault()
            val model = SignInModel(phone, Session(vault), en)
            model.signIn(TestServer.url, PATROLLER, SAMPLE_PASSWORD)
            startInspection(phone)
            // The server cannot be reached any more.
            vault.save(vault.load()!!.copy(serverUrl = "http://127.0.0.1:1"))
            model.signOut()
            assertEquals(1uL, model.state.unsyncedAtSignOut)
            assertTrue(model.state.error!!, model.state.error!!.startsWith("1 records and 0 photos have not reached the server"))
            assertNotNull(phone.currentUser())
            assertEquals(1uL, phone.unsyncedCount())

            model.signOut(force = true)
            assertNull(model.state.error)
            assertNull(phone.currentUser())
            assertEquals(0uL, phone.unsyncedCount())
            assertNull(vault.load())
        }
    }
}
