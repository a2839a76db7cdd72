// Shared helpers of the binding tests: the real server the tests sync with, and stores in
// temporary folders. The foreign-test script passes the paths as system properties.
package org.firegrid.ffi.test

import java.io.File
import java.io.IOException
import java.net.HttpURLConnection
import java.net.ServerSocket
import java.net.URI
import java.nio.file.Files
import java.util.concurrent.TimeUnit
import org.firegrid.ffi.FiregridStore

/** Sample users (fixtures/district/users.json) and their demo password (`serve --seed-sample`). */
const val PATROLLER = "u.gp001"
const val OFFICE = "u.so001"
const val SAMPLE_PASSWORD = "zhenru-sample"

fun property(name: String): String =
    System.getProperty(name) ?: error("system property $name is not set (run scripts/foreign-tests)")

val fixtures: String get() = property("firegrid.fixtures")

fun tempDir(prefix: String): File = Files.createTempDirectory(prefix).toFile().also { it.deleteOnExit() }

/** A store in a new temporary folder, with the fixtures imported when [seeded]. */
fun newStore(seeded: Boolean = true): FiregridStore {
    val store = FiregridStore.open(File(tempDir("firegrid-store"), "firegrid.db").path)
    if (seeded) store.importFixtures(fixtures)
    return store
}

/** Resident set size of this process in kB (Linux). */
fun rssKb(): Long =
    File("/proc/self/status").readLines().first { it.startsWith("VmRSS:") }
        .split(Regex("\\s+"))[1].toLong()

/**
 * One real `firegrid-server serve --seed-sample` for the whole test run, on a free port of
 * 127.0.0.1, with its data in a temporary folder; stopped when the JVM exits.
 */
object TestServer {
    val url: String by lazy { start() }

    private fun start(): String {
        val port = ServerSocket(0).use { it.localPort }
        val dir = tempDir("firegrid-server")
        val log = File(dir, "server.log")
        val process = ProcessBuilder(
            property("firegrid.server"), "serve", "--seed-sample",
            "--data-dir", File(dir, "data").path,
            "--listen", "127.0.0.1:$port",
            "--fixtures", fixtures,
        ).redirectErrorStream(true).redirectOutput(log).start()
        Runtime.getRuntime().addShutdownHook(Thread {
            process.destroy()
            process.waitFor(10, TimeUnit.SECONDS)
        })
        val url = "http://127.0.0.1:$port"
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180)
        while (true) {
            try {
                val conn = URI("$url/healthz").toURL().openConnection() as HttpURLConnection
                conn.connectTimeout = 500
                conn.readTimeout = 2000
                if (conn.responseCode == 200) return url
            } catch (_: IOException) {
                // not listening yet
            }
            check(process.isAlive) { "the server exited:\n${log.readText()}" }
            check(System.nanoTime() < deadline) { "the server did not start in 180 s:\n${log.readText()}" }
            Thread.sleep(200)
        }
    }
}
