// One hazard case in detail: its status and the before/after photo pairs (整改前后对比) — the
// hazard's first photo beside each fix's, handling's or verification's photo, with the distance
// between where they were taken and the far-away flag the core sets. A thumbnail the device
// lacks (the photo was taken on another phone) is fetched on demand from the server, thumbnail
// first, and shown as soon as it is stored; offline the pair shows without it and says so.
// Every call blocks (SQLite, network): the screen calls these from a background dispatcher.
package org.firegrid.model

import org.firegrid.ffi.FiregridException
import org.firegrid.ffi.FiregridStore
import org.firegrid.ffi.HazardEventKind
import org.firegrid.ffi.HazardStatus
import org.firegrid.ffi.PhotoFetchListener
import org.firegrid.ffi.PhotoPair

/** One side of a pair: the photo's hash and its thumbnail once the device holds it. */
data class PairPhoto(
    val sha256: String,
    /** JPEG, ≤ 256 px; null while missing. */
    val thumbnail: ByteArray? = null,
    /** What to show in its place while [thumbnail] is null ("" once shown). */
    val placeholder: String = "",
)

/** A before/after pair as the screen shows it. */
data class PhotoPairRow(
    val eventId: String,
    /** Which step the after photo belongs to, in words. */
    val kindText: String,
    val before: PairPhoto,
    val after: PairPhoto,
    val distanceM: Double?,
    val distanceText: String,
    /** Farther than the street's limit: the step is flagged. */
    val far: Boolean,
    /** The warning to show when [far], else null. */
    val farText: String?,
)

data class HazardDetailState(
    val hazardId: String? = null,
    val title: String = "",
    val status: HazardStatus? = null,
    val statusText: String = "",
    val pairs: List<PhotoPairRow> = emptyList(),
    val error: String? = null,
)

class HazardDetailModel(
    private val store: FiregridStore,
    private val session: Session,
    texts: Texts = Texts("zh"),
) : StateModel<HazardDetailState>(HazardDetailState(), texts) {
    private fun fail(message: String) {
        update { it.copy(error = message) }
    }

    /**
     * Loads the case and its pairs with the thumbnails the device holds, then fetches the
     * missing ones from the server (each shown as it arrives). Offline or signed out, the
     * missing ones keep their placeholder and the error says why.
     */
    fun open(hazardId: String) {
        val case = guarded(::fail) { store.hazardCase(hazardId) } ?: return
        update {
            HazardDetailState(
                hazardId = hazardId,
                title = texts.of(case.hazard.title),
                status = case.state.status,
                statusText = texts.status(case.state.status),
                pairs = case.photoPairs.map(::row),
            )
        }
        fetchMissing()
    }

    private fun row(p: PhotoPair): PhotoPairRow {
        val distance = p.distanceM
        return PhotoPairRow(
            eventId = p.eventId,
            kindText = texts.get(
                when (p.kind) {
                    HazardEventKind.HANDLED -> Msg.PAIR_HANDLING
                    HazardEventKind.VERIFIED, HazardEventKind.VERIFICATION_FAILED -> Msg.PAIR_VERIFICATION
                    else -> Msg.PAIR_FIX
                },
            ),
            before = local(p.beforeSha256),
            after = local(p.afterSha256),
            distanceM = distance,
            distanceText = if (distance == null) texts.get(Msg.PAIR_NO_DISTANCE)
            else texts.get(Msg.PAIR_DISTANCE, Math.round(distance)),
            far = p.far,
            farText = if (p.far) texts.get(Msg.PAIR_FAR) else null,
        )
    }

    private fun local(sha256: String): PairPhoto = try {
        PairPhoto(sha256, store.photoThumbnail(sha256))
    } catch (_: FiregridException.NotFound) {
        PairPhoto(sha256, placeholder = texts.get(Msg.PHOTO_LOADING))
    }

    private fun missing(): List<String> =
        state.pairs.flatMap { listOf(it.before, it.after) }.filter { it.thumbnail == null }.map { it.sha256 }.distinct()

    /** Puts the stored thumbnail of [sha256] into every pair that shows it. */
    private fun show(hash: String) {
        val thumbnail = try {
            store.photoThumbnail(hash)
        } catch (_: FiregridException.NotFound) {
            return
        }
        fun PairPhoto.filled() = if (sha256 == hash) copy(thumbnail = thumbnail, placeholder = "") else this
        update { s -> s.copy(pairs = s.pairs.map { it.copy(before = it.before.filled(), after = it.after.filled()) }) }
    }

    /** Downloads the thumbnails (then the photos) the device lacks; safe to call again. */
    fun fetchMissing() {
        val wanted = missing()
        if (wanted.isEmpty()) return
        fun unavailable(sha: String) {
            fun PairPhoto.marked() = if (sha256 == sha && thumbnail == null) copy(placeholder = texts.get(Msg.PHOTO_NOT_AVAILABLE)) else this
            update { s -> s.copy(pairs = s.pairs.map { it.copy(before = it.before.marked(), after = it.after.marked()) }) }
        }
        val listener = object : PhotoFetchListener {
            override fun onThumbnail(sha256: String) = show(sha256)
        }
        try {
            val (client, token) = session.current() ?: throw FiregridException.NotSignedIn()
            for (sha in wanted) {
                try {
                    store.fetchPhoto(client, token, sha, true, listener)
                    show(sha)
                } catch (_: FiregridException.NotFound) {
                    // Not uploaded from the other phone yet: the others may still come.
                    unavailable(sha)
                }
            }
        } catch (e: FiregridException) {
            missing().forEach(::unavailable)
            fail(texts.describe(e))
        }
    }
}
