// Shared helpers of the view-model tests: stores signed in as a sample user, the real camera
// files of fixtures/photos, and the photo step the app wires (`store.addPhoto`, the core's
// photo pipeline). The real server and the store helpers come from the binding tests
// (org.firegrid.ffi.test), compiled with these.
package org.firegrid.model

import java.awt.Color
import java.awt.image.BufferedImage
import java.io.ByteArrayOutputStream
import java.io.File
import javax.imageio.ImageIO
import org.firegrid.ffi.FiregridStore
import org.firegrid.ffi.PhotoRef
import org.firegrid.ffi.test.fixtures
import org.firegrid.ffi.test.newStore

/** A store with the fixtures, signed in as [user] on the device (no server). */
fun storeAs(user: String): FiregridStore = newStore().also { it.setCurrentUser(user) }

/** A file of fixtures/photos, as the camera hands it over. */
fun cameraFile(name: String): ByteArray = File(fixtures, "photos/$name").readBytes()

/** The phone camera's JPEG (Exif orientation 6, GPS position). */
val cameraJpeg: ByteArray get() = cameraFile("exif-orientation-6-gps.jpg")

/** A second, different picture (a PNG screenshot-like image). */
val otherPicture: ByteArray get() = cameraFile("transparent.png")

/**
 * A further real picture, a PNG the JVM draws, different for each [seed]: the server keeps a
 * photo once by its hash, so a test that counts uploads needs one no other test sent.
 */
fun drawnPicture(seed: Int): ByteArray {
    val image = BufferedImage(200, 150, BufferedImage.TYPE_INT_RGB)
    val g = image.createGraphics()
    g.color = Color(30, 140, 60)
    g.fillRect(0, 0, 200, 150)
    g.color = Color(255, 255 - seed % 256, 255)
    g.fillRect(40, 30, 120, 90)
    g.dispose()
    return ByteArrayOutputStream().also { ImageIO.write(image, "png", it) }.toByteArray()
}

/**
 * The app's photo step: the real pipeline of [store]; [taken] records what reached it.
 * [keepLocation] as the worker's setting.
 */
fun pipeline(store: FiregridStore, keepLocation: Boolean = true, taken: MutableList<ByteArray> = mutableListOf()): (ByteArray) -> PhotoRef = { bytes ->
    taken.add(bytes)
    store.addPhoto(bytes, keepLocation)
}

fun isJpeg(bytes: ByteArray?) = bytes != null && bytes.size > 4 && bytes[0] == 0xFF.toByte() && bytes[1] == 0xD8.toByte()

val en = Texts("en")
val zh = Texts("zh-CN")
