// The surface itself, apart from the scenario: errors arrive as Kotlin exceptions with their
// fields, a Rust panic arrives as an exception and leaves the library usable, objects are
// freed (10,000 create/destroy cycles without growth), and calls from several threads at once.
package org.firegrid.ffi.test

import java.io.File
import java.util.concurrent.Callable
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import org.firegrid.ffi.AnswerResult
import org.firegrid.ffi.FiregridException
import org.firegrid.ffi.FiregridStore
import org.firegrid.ffi.GeoPoint
import org.firegrid.ffi.InternalException
import org.firegrid.ffi.NewHazard
import org.firegrid.ffi.PhotoRef
import org.firegrid.ffi.PremisesFilter
import org.firegrid.ffi.Severity
import org.firegrid.ffi.SyncClient
import org.firegrid.ffi.coreVersion
import org.firegrid.ffi.openStoreCount
import org.firegrid.ffi.testHooksPanic
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

class SurfaceTest {
    private inline fun <reified E : Throwable> assertThrows(block: () -> Unit): E {
        try {
            block()
        } catch (e: Throwable) {
            if (e is E) return e
            throw AssertionError("expected ${E::class.simpleName}, got $e", e)
        }
        throw AssertionError("expected ${E::class.simpleName}, nothing was thrown")
    }

    @Test
    fun errorsArriveAsExceptionsWithTheirFields() {
        assertTrue(coreVersion().isNotEmpty())
        newStore().use { store ->
            assertThrows<FiregridException.NotSignedIn> { store.listPremises(PremisesFilter()) }
            store.setCurrentUser(PATROLLER)

            val invalid = assertThrows<FiregridException.Invalid> { store.premises("not an id") }
            assertEquals("premises_id", invalid.field)
            assertTrue(invalid.reason.isNotEmpty())
            assertTrue(invalid.message!!.contains("premises_id"))

            val missing = assertThrows<FiregridException.NotFound> { store.premises("prem.nope") }
            assertEquals("premises", missing.kind)
            assertEquals("prem.nope", missing.id)

            val tooFar = assertThrows<FiregridException.Invalid> {
                store.startInspection(store.listPremises(PremisesFilter(limit = 1u))[0].id, GeoPoint(91.0, 0.0))
            }
            assertEquals("location.lat", tooFar.field)
            assertThrows<FiregridException.Invalid> { store.listPremises(PremisesFilter(limit = 0u)) }

            val shop = store.listPremises(PremisesFilter(limit = 1u))[0]
            val insp = store.startInspection(shop.id)
            val badPhoto = assertThrows<FiregridException.Invalid> {
                store.attachPhoto(insp.id, insp.items[0], PhotoRef(sha256 = "XYZ"))
            }
            assertEquals("photo.sha256", badPhoto.field)
            assertEquals("item_id", assertThrows<FiregridException.Invalid> {
                store.answer(insp.id, "no.such.item", AnswerResult.PASS)
            }.field)
            val incomplete = assertThrows<FiregridException.IncompleteInspection> { store.finishInspection(insp.id) }
            assertEquals(insp.id, incomplete.inspectionId)
            assertTrue(incomplete.unanswered.isNotEmpty())

            val forbidden = store.listPremises(PremisesFilter(limit = 5000u)).map { it.id }.toSet()
            val elsewhere = newStore().use { office ->
                office.setCurrentUser(OFFICE)
                office.listPremises(PremisesFilter(limit = 5000u)).first { it.id !in forbidden }.id
            }
            assertThrows<FiregridException.Forbidden> { store.startInspection(elsewhere) }
            val hazard = assertThrows<FiregridException.Invalid> {
                store.reportHazard(NewHazard(premisesId = shop.id, description = "  ", severity = Severity.GENERAL))
            }
            assertEquals("description", hazard.field)
        }

        // Not a database: a typed error, not a crash.
        val garbage = File(tempDir("firegrid-garbage"), "firegrid.db")
        garbage.writeText("this is not an SQLite database, just text that is long enough. ".repeat(100))
        assertThrows<FiregridException.Corrupt> { FiregridStore.open(garbage.path) }
        assertThrows<FiregridException.Storage> { FiregridStore.open("/nonexistent-dir/sub/firegrid.db") }

        // The network: a bad URL, a server that is not there, a bad token.
        assertEquals("server_url", assertThrows<FiregridException.Invalid> { SyncClient("ftp://example.invalid") }.field)
        newStore(seeded = false).use { store ->
            SyncClient("http://127.0.0.1:9").use { nowhere ->
                assertThrows<FiregridException.Network> { store.sync(nowhere, "token") }
            }
            SyncClient(TestServer.url).use { client ->
                assertThrows<FiregridException.Unauthorized> { store.sync(client, "0".repeat(64)) }
                assertThrows<FiregridException.Unauthorized> { client.refresh("not-a-token") }
            }
        }
    }

    @Test
    fun aPanicInRustIsAnExceptionAndTheLibraryKeepsWorking() {
        println("(a Rust panic message \"test hook: boom\" follows: it is expected)")
        val e = assertThrows<InternalException> { testHooksPanic("boom") }
        assertTrue(e.message!!.contains("boom"))
        newStore(seeded = false).use { assertEquals(32, it.deviceId().length) }
    }

    @Test
    fun objectsAreFreedAfterTenThousandCycles() {
        val dir = tempDir("firegrid-cycles")
        val path = File(dir, "firegrid.db").path
        val baseline = openStoreCount()
        fun cycles(n: Int) {
            repeat(n) {
                FiregridStore.open(path).use { store ->
                    assertEquals(baseline + 1UL, openStoreCount())
                    store.deviceId()
                }
                assertEquals(baseline, openStoreCount())
            }
        }
        // The script runs the JVM with a fixed, pre-touched heap (-Xms = -Xmx, AlwaysPreTouch),
        // so the resident set grows only with native memory: what the Rust side keeps.
        cycles(2_000) // warm up: JIT, allocator arenas, SQLite's caches
        System.gc()
        val before = rssKb()
        cycles(10_000)
        System.gc()
        val grown = rssKb() - before
        println("10,000 open/close cycles: RSS grew by $grown kB")
        assertEquals(baseline, openStoreCount())
        // A leaked store holds two SQLite connections (well over 100 kB each): 10,000 leaks
        // would be gigabytes. Allow for the JVM's metaspace and code cache.
        assertTrue("RSS grew by $grown kB", grown < 32 * 1024)

        // Records crossing the boundary (Rust buffers both ways) do not leak either.
        newStore().use { store ->
            store.setCurrentUser(PATROLLER)
            val id = store.listPremises(PremisesFilter(limit = 1u))[0].id
            repeat(1_000) { store.premises(id) }
            System.gc()
            val start = rssKb()
            repeat(10_000) { store.premises(id) }
            System.gc()
            val g = rssKb() - start
            println("10,000 premises records read: RSS grew by $g kB")
            assertTrue("RSS grew by $g kB", g < 32 * 1024)
        }
    }

    @Test
    fun callsFromSeveralThreadsAtOnce() {
        newStore().use { store ->
            store.setCurrentUser(PATROLLER)
            val shops = store.listPremises(PremisesFilter())
            val ids = shops.map { it.id }
            val pool = Executors.newFixedThreadPool(8)
            try {
                val tasks = (0 until 8).map { t ->
                    Callable {
                        // Each thread inspects its own premises while reading the lists.
                        val insp = store.startInspection(shops[t % shops.size].id)
                        for (item in insp.items) {
                            store.answer(insp.id, item, AnswerResult.PASS, "thread $t")
                            assertEquals(ids, store.listPremises(PremisesFilter()).map { it.id })
                        }
                        store.finishInspection(insp.id)
                        insp.id to insp.items.size
                    }
                }
                val done = pool.invokeAll(tasks, 5, TimeUnit.MINUTES).map { it.get() }
                for ((id, items) in done) {
                    val insp = store.inspection(id)
                    assertEquals(items, insp.answers.size)
                    assertTrue(insp.answers.values.all { it.result == AnswerResult.PASS })
                }
                assertEquals(8UL, store.unsyncedCount())
            } finally {
                pool.shutdown()
            }
        }
    }
}
