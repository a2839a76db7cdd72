// Shared helpers of the view-model tests: stores signed in as a sample user, and the photo
// step the app gets from the photo pipeline. The real server and the store helpers come from
// the binding tests (org.firegrid.ffi.test), compiled with these.
package org.firegrid.model

import java.security.MessageDigest
import org.firegrid.ffi.FiregridException
import org.firegrid.ffi.FiregridStore
import org.firegrid.ffi.PhotoRef
import org.firegrid.ffi.test.newStore

/** A store with the fixtures, signed in as [user] on the device (no server). */
fun storeAs(user: String): FiregridStore = newStore().also { it.setCurrentUser(user) }

/**
 * Stands in for the photo pipeline's `addPhoto` (processing lands with #5): the reference is
 * the SHA-256 of the bytes, as the pipeline's is of the stored image; an empty picture is
 * refused as the pipeline refuses an image it cannot decode.
 */
fun hashingPipeline(taken: MutableList<ByteArray> = mutableListOf()): (ByteArray) -> PhotoRef = { bytes ->
    if (bytes.isEmpty()) throw FiregridException.Invalid("photo", "not an image")
    taken.add(bytes)
    val hex = MessageDigest.getInstance("SHA-256").digest(bytes).joinToString("") { "%02x".format(it) }
    PhotoRef(sha256 = hex, capturedAtMs = 1_764_400_000_000)
}

val en = Texts("en")
val zh = Texts("zh-CN")
