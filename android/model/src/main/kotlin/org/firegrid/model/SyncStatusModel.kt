// Sync status: runs a sync on its own executor (never the caller's thread): the documents first,
// then the photo sync (a photo is accepted once its record is on the server). Shows each one's
// progress as a bar (records; photos and bytes), the last result with what the server refused
// (records and photos, with the reasons in the user's language), and what still waits to be sent.
// The same model serves the "sync now" button and the background job (WorkManager on Android,
// BGTaskScheduler on iOS), which calls `syncBlocking` on its own worker thread.
package org.firegrid.model

import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import java.util.concurrent.Future
import org.firegrid.ffi.FiregridException
import org.firegrid.ffi.FiregridStore
import org.firegrid.ffi.PhotoSyncListener
import org.firegrid.ffi.PhotoSyncProgress
import org.firegrid.ffi.RefusalReason
import org.firegrid.ffi.SyncProgress
import org.firegrid.ffi.SyncProgressListener
import org.firegrid.ffi.SyncReport

data class SyncStatusState(
    val running: Boolean = false,
    /** 0.0–1.0 while sending what waited; null while it is unknown (pulling pages): indeterminate. */
    val progress: Double? = null,
    val rounds: UInt = 0u,
    /** Records waiting to be sent (before a sync starts: what this phone holds unsent). */
    val unsynced: ULong = 0u,
    val unsyncedText: String = "",
    val lastSyncMs: Long? = null,
    val lastResult: String = "",
    /** Records the server refused in the last sync, in words ("id: reason"). */
    val refusals: List<String> = emptyList(),
    /** Photos waiting for upload, and in words. */
    val photosWaiting: ULong = 0u,
    val photosWaitingText: String = "",
    /** The photo sync's progress while it runs (photos and bytes), null otherwise. */
    val photoProgress: PhotoSyncProgress? = null,
    /** 0.0–1.0 by bytes while photos upload; null when there is nothing to measure. */
    val photoFraction: Double? = null,
    val photoProgressText: String = "",
    /** The photo sync's last result in words ("" before one ran). */
    val photoResult: String = "",
    /** Photos whose last upload the server refused (still queued): "sha256 prefix: reason". */
    val photoRefusals: List<String> = emptyList(),
    val error: String? = null,
    /** The last failure may pass by itself (offline, server busy or failing, a sync running): retry later. */
    val retryable: Boolean = false,
)

class SyncStatusModel(
    private val store: FiregridStore,
    private val session: Session,
    texts: Texts = Texts("zh"),
    private val executor: ExecutorService = Executors.newSingleThreadExecutor { r ->
        Thread(r, "firegrid-sync").apply { isDaemon = true }
    },
    private val now: () -> Long = System::currentTimeMillis,
) : StateModel<SyncStatusState>(SyncStatusState(lastResult = texts.get(Msg.NEVER_SYNCED)), texts),
    AutoCloseable {

    private fun fail(message: String, retryable: Boolean = false) {
        update { it.copy(running = false, progress = null, photoProgress = null, photoFraction = null, error = message, retryable = retryable) }
    }

    /** Reads what waits to be sent and the photos refused last time (offline). */
    fun refresh() {
        guarded(::fail) {
            val n = store.unsyncedCount()
            val photos = store.photoUploadCount()
            val refusals = photoRefusals()
            update {
                it.copy(
                    unsynced = n,
                    unsyncedText = texts.get(Msg.UNSYNCED, n),
                    photosWaiting = photos,
                    photosWaitingText = texts.get(Msg.PHOTOS_WAITING, photos),
                    photoRefusals = refusals,
                )
            }
        }
    }

    private fun photoRefusals(): List<String> = store.photoRefusals().map { "${it.sha256.take(12)}: ${texts.of(it.label)}" }

    private fun photoText(p: PhotoSyncProgress) =
        texts.get(Msg.PHOTO_PROGRESS, p.photosDone, p.photosTotal, (p.bytesDone + 1023u) / 1024u, (p.bytesTotal + 1023u) / 1024u)

    /** Starts a sync off the caller's thread; the returned future ends with it. */
    fun syncNow(): Future<*> = executor.submit { syncBlocking() }

    /** Runs one sync on this thread (the background job's worker). Returns the report, or null. */
    fun syncBlocking(): SyncReport? {
        val startUnsynced = guarded(::fail) { store.unsyncedCount() } ?: return null
        update { it.copy(running = true, progress = if (startUnsynced > 0u) 0.0 else null, rounds = 0u, error = null, lastResult = texts.get(Msg.SYNCING)) }
        val listener = object : SyncProgressListener {
            override fun onProgress(progress: SyncProgress) {
                val sent = if (startUnsynced == 0uL) null
                else 1.0 - progress.unsynced.toDouble() / startUnsynced.toDouble()
                update {
                    it.copy(
                        rounds = progress.rounds,
                        unsynced = progress.unsynced,
                        unsyncedText = texts.get(Msg.UNSYNCED, progress.unsynced),
                        progress = if (progress.more) null else (sent ?: 1.0).coerceIn(0.0, 1.0),
                    )
                }
            }
        }
        return try {
            val (client, token) = session.current() ?: throw FiregridException.NotSignedIn()
            val report = store.sync(client, token, listener)
            val left = store.unsyncedCount()
            update {
                it.copy(
                    running = true, // the photo sync follows
                    progress = 1.0,
                    unsynced = left,
                    unsyncedText = texts.get(Msg.UNSYNCED, left),
                    lastSyncMs = now(),
                    lastResult = listOfNotNull(
                        texts.get(Msg.SYNC_DONE, report.sentChanges, report.receivedChanges),
                        report.refused.takeIf { r -> r.isNotEmpty() }?.let { r -> texts.get(Msg.SYNC_REFUSED, r.size) },
                    ).joinToString(texts.get(Msg.SEPARATOR)),
                    refusals = report.refused.map { r -> "${r.recordId}: ${reason(r.reason)}" },
                    error = null,
                    retryable = false,
                )
            }
            syncPhotos(client, token)
            report
        } catch (e: FiregridException) {
            val retryable = when (e) {
                is FiregridException.Network, is FiregridException.ServerBusy, is FiregridException.AlreadySyncing -> true
                is FiregridException.Server -> e.status >= 500u
                else -> false
            }
            fail(texts.describe(e), retryable)
            null
        }
    }

    /**
     * The photo sync after the documents: progress by photos and bytes, then the result and
     * the refusals. Its failures propagate (the documents are synced by then).
     */
    private fun syncPhotos(client: org.firegrid.ffi.SyncClient, token: String) {
        update { it.copy(running = true, photoProgress = null, photoFraction = null, photoProgressText = "") }
        val listener = object : PhotoSyncListener {
            override fun onProgress(progress: PhotoSyncProgress) {
                update {
                    it.copy(
                        photoProgress = progress,
                        photoFraction = if (progress.bytesTotal == 0uL) null
                        else (progress.bytesDone.toDouble() / progress.bytesTotal.toDouble()).coerceIn(0.0, 1.0),
                        photoProgressText = photoText(progress),
                    )
                }
            }
        }
        val report = store.syncPhotos(client, token, PHOTO_ATTEMPTS, listener)
        val waiting = store.photoUploadCount()
        val refusals = photoRefusals()
        update {
            it.copy(
                running = false,
                photoProgress = null,
                photoFraction = null,
                photosWaiting = waiting,
                photosWaitingText = texts.get(Msg.PHOTOS_WAITING, waiting),
                photoResult = listOfNotNull(
                    texts.get(Msg.PHOTOS_DONE, report.uploaded, report.alreadyOnServer),
                    report.refused.takeIf { r -> r.isNotEmpty() }?.let { r -> texts.get(Msg.PHOTOS_REFUSED, r.size) },
                    report.damagedLocally.takeIf { d -> d > 0u }?.let { d -> texts.get(Msg.PHOTOS_DAMAGED, d) },
                ).joinToString(texts.get(Msg.SEPARATOR)),
                photoRefusals = refusals,
            )
        }
    }

    private fun reason(r: RefusalReason) = texts.get(
        when (r) {
            RefusalReason.FORBIDDEN -> Msg.REFUSED_FORBIDDEN
            RefusalReason.FOREIGN_ACTOR -> Msg.REFUSED_FOREIGN_ACTOR
            RefusalReason.INVALID -> Msg.REFUSED_INVALID
            RefusalReason.TOO_LARGE -> Msg.REFUSED_TOO_LARGE
        },
    )

    private companion object {
        /** Network retries per photo within one run (the background job retries the run). */
        const val PHOTO_ATTEMPTS = 3u
    }

    override fun close() {
        executor.shutdown()
    }
}
