// The inspection form's logic in plain Kotlin, depending only on the generated bindings (no
// Android classes), so it is compiled and tested on the JVM by scripts/foreign-tests. The
// Compose screen stays thin: it renders `state` and calls these methods from a background
// dispatcher (every store call blocks: SQLite).
package org.firegrid.app

import java.util.concurrent.CopyOnWriteArrayList
import org.firegrid.ffi.AnswerResult
import org.firegrid.ffi.FiregridException
import org.firegrid.ffi.FiregridStore
import org.firegrid.ffi.GeoPoint
import org.firegrid.ffi.Localized
import org.firegrid.ffi.PhotoRef

/** One row of the form: the checklist item and what is recorded against it. */
data class FormItem(
    val id: String,
    val group: String,
    val text: String,
    val photoRequiredOnFail: Boolean,
    val result: AnswerResult? = null,
    val note: String? = null,
    val photos: Int = 0,
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

class InspectionFormModel(private val store: FiregridStore, private val language: String = "zh") {
    @Volatile
    var state = InspectionFormState()
        private set
    private val observers = CopyOnWriteArrayList<(InspectionFormState) -> Unit>()

    /** Calls [observer] with the state now and after every change, until closed. */
    fun observe(observer: (InspectionFormState) -> Unit): AutoCloseable {
        observers.add(observer)
        observer(state)
        return AutoCloseable { observers.remove(observer) }
    }

    private fun set(next: InspectionFormState) {
        state = next
        observers.forEach { it(next) }
    }

    private fun text(t: Localized) = if (language.startsWith("zh")) t.zh else t.en

    /** Runs one store call; a failure becomes the state's error message. */
    private inline fun guarded(block: () -> Unit) {
        try {
            block()
        } catch (e: FiregridException) {
            set(state.copy(error = describe(e, language)))
        }
    }

    /** Starts an inspection of a premises and loads its form. */
    fun start(premisesId: String, location: GeoPoint? = null) = guarded {
        val inspection = store.startInspection(premisesId, location)
        val checklist = store.checklist(inspection.checklistId, inspection.checklistVersion)
        val byId = checklist.items.associateBy { it.id }
        set(InspectionFormState(
            inspectionId = inspection.id,
            title = text(checklist.title),
            items = inspection.items.mapNotNull { id ->
                byId[id]?.let { FormItem(id, it.group, text(it.text), it.photoRequiredOnFail) }
            },
        ))
    }

    private fun update(itemId: String, change: (FormItem) -> FormItem) =
        set(state.copy(items = state.items.map { if (it.id == itemId) change(it) else it }, error = null))

    /** Records pass / fail / not applicable (and the note) of one item. */
    fun answer(itemId: String, result: AnswerResult, note: String? = null) = guarded {
        val id = state.inspectionId ?: return@guarded
        store.answer(id, itemId, result, note?.takeIf { it.isNotBlank() })
        update(itemId) { it.copy(result = result, note = note) }
    }

    /** Attaches a photo the photo pipeline has stored (its SHA-256). */
    fun attachPhoto(itemId: String, photo: PhotoRef) = guarded {
        val id = state.inspectionId ?: return@guarded
        store.attachPhoto(id, itemId, photo)
        update(itemId) { it.copy(photos = it.photos + 1) }
    }

    /** Finishes the inspection; when refused, `needsAttention` lists the items to fix. */
    fun finish(location: GeoPoint? = null) {
        val id = state.inspectionId ?: return
        try {
            val report = store.finishInspection(id, location)
            set(state.copy(finishedHazards = report.hazards, needsAttention = emptyList(), error = null))
        } catch (e: FiregridException.IncompleteInspection) {
            set(state.copy(needsAttention = e.unanswered + e.missingPhotos, error = describe(e, language)))
        } catch (e: FiregridException) {
            set(state.copy(error = describe(e, language)))
        }
    }

    companion object {
        /** A message for people, in zh or en. */
        fun describe(e: FiregridException, language: String): String {
            val zh = language.startsWith("zh")
            return when (e) {
                is FiregridException.NotSignedIn -> if (zh) "请先登录" else "Please sign in"
                is FiregridException.IncompleteInspection ->
                    if (zh) "还有 ${e.unanswered.size} 项未回答，${e.missingPhotos.size} 项缺少照片"
                    else "${e.unanswered.size} unanswered, ${e.missingPhotos.size} without the required photo"
                is FiregridException.Invalid -> "${e.field}: ${e.reason}"
                is FiregridException.Forbidden -> if (zh) "无权操作：${e.detail}" else "Not allowed: ${e.detail}"
                is FiregridException.InspectionFinished -> if (zh) "检查已完成，不能再修改" else "The inspection is finished"
                is FiregridException.StorageFull -> if (zh) "手机存储空间已满" else "The phone's storage is full"
                else -> e.message ?: e.toString()
            }
        }
    }
}
