// The inspection form's logic: one checklist per category (residential compounds, street shops,
// large sites), each item pass / fail / not applicable with a note and photos, each photo shown
// by its thumbnail. The camera's picture reaches the store through the injected `addPhoto` (the
// app passes `store.addPhoto(bytes, keepLocation)`, the core's photo pipeline: upright, shrunk,
// Exif stripped, stored with its thumbnail); a file the pipeline cannot use (junk, HEIC, a
// decompression bomb) is refused with a message in the user's language. Every call blocks
// (SQLite, image processing): the screen calls these from a background dispatcher.
package org.firegrid.model

import org.firegrid.ffi.AnswerResult
import org.firegrid.ffi.FiregridException
import org.firegrid.ffi.FiregridStore
import org.firegrid.ffi.GeoPoint
import org.firegrid.ffi.PhotoRef

/** One row of the form: the checklist item and what is recorded against it. */
data class FormItem(
    val id: String,
    val group: String,
    val text: String,
    val photoRequiredOnFail: Boolean,
    val result: AnswerResult? = null,
    val note: String? = null,
    /** The attached photos' SHA-256, in the order taken. */
    val photos: List<String> = emptyList(),
    /** Their thumbnails (JPEG, ≤ 256 px) by SHA-256, as the store holds them. */
    val thumbnails: Map<String, ByteArray> = emptyMap(),
)

/** Everything the form screen shows. */
data class InspectionFormState(
    val inspectionId: String? = null,
    val title: String = "",
    val items: List<FormItem> = emptyList(),
    /** Items to take the user to after a refused finish (unanswered, then missing photos). */
    val needsAttention: List<String> = emptyList(),
    /** The hazard drafts made when the inspection was finished; null while in progress. */
    val finishedHazards: List<String>? = null,
    /** A message for people (ids only, never personal data), or null. */
    val error: String? = null,
)

class InspectionFormModel(
    private val store: FiregridStore,
    texts: Texts = Texts("zh"),
    /** Camera bytes → the processed, stored photo's reference (the photo pipeline). */
    private val addPhoto: (ByteArray) -> PhotoRef,
) : StateModel<InspectionFormState>(InspectionFormState(), texts) {
    private fun fail(message: String) {
        update { it.copy(error = message) }
    }

    /** Starts an inspection of a premises and loads its form. */
    fun start(premisesId: String, location: GeoPoint? = null) {
        guarded(::fail) {
            val inspection = store.startInspection(premisesId, location)
            val checklist = store.checklist(inspection.checklistId, inspection.checklistVersion)
            val byId = checklist.items.associateBy { it.id }
            update {
                InspectionFormState(
                    inspectionId = inspection.id,
                    title = texts.of(checklist.title),
                    items = inspection.items.mapNotNull { id ->
                        byId[id]?.let { FormItem(id, it.group, texts.of(it.text), it.photoRequiredOnFail) }
                    },
                )
            }
        }
    }

    private fun item(itemId: String, change: (FormItem) -> FormItem) = update { s ->
        s.copy(items = s.items.map { if (it.id == itemId) change(it) else it }, error = null)
    }

    private fun inspectionId(): String? = state.inspectionId ?: null.also { fail(texts.get(Msg.NO_INSPECTION)) }

    /** Records pass / fail / not applicable (and the note) of one item. */
    fun answer(itemId: String, result: AnswerResult, note: String? = null) {
        val id = inspectionId() ?: return
        guarded(::fail) {
            store.answer(id, itemId, result, note?.takeIf { it.isNotBlank() })
            item(itemId) { it.copy(result = result, note = note) }
        }
    }

    /**
     * A picture from the camera (the JPEG file's bytes): processed and stored by the photo
     * pipeline, then attached to the item. An image the pipeline refuses (HEIC, too large,
     * damaged, a bomb) becomes a message in the user's language and nothing is attached.
     */
    fun capture(itemId: String, image: ByteArray) {
        val id = inspectionId() ?: return
        guarded(::fail) {
            val photo = try {
                addPhoto(image)
            } catch (e: FiregridException.Invalid) {
                if (e.field != "photo") throw e
                fail(texts.get(Msg.PHOTO_UNUSABLE))
                return
            }
            store.attachPhoto(id, itemId, photo)
            val thumbnail = thumbnailOf(photo.sha256)
            item(itemId) {
                if (photo.sha256 in it.photos) it
                else it.copy(photos = it.photos + photo.sha256, thumbnails = it.thumbnails + listOfNotNull(thumbnail?.let { t -> photo.sha256 to t }))
            }
        }
    }

    /** The thumbnail the store holds for a photo, or null when it lacks it (taken elsewhere). */
    private fun thumbnailOf(sha256: String): ByteArray? = try {
        store.photoThumbnail(sha256)
    } catch (_: FiregridException.NotFound) {
        null
    }

    /** Removes a photo from an item. */
    fun removePhoto(itemId: String, sha256: String) {
        val id = inspectionId() ?: return
        guarded(::fail) {
            store.removePhoto(id, itemId, sha256)
            item(itemId) { it.copy(photos = it.photos - sha256, thumbnails = it.thumbnails - sha256) }
        }
    }

    /** Finishes the inspection; when refused, `needsAttention` lists the items to fix. */
    fun finish(location: GeoPoint? = null) {
        val id = inspectionId() ?: return
        try {
            val report = store.finishInspection(id, location)
            update { it.copy(finishedHazards = report.hazards, needsAttention = emptyList(), error = null) }
        } catch (e: FiregridException.IncompleteInspection) {
            update { it.copy(needsAttention = e.unanswered + e.missingPhotos, error = texts.describe(e)) }
        } catch (e: FiregridException) {
            fail(texts.describe(e))
        }
    }
}
