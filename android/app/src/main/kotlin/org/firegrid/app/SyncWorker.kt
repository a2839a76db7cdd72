// Background sync with WorkManager: every hour when a network is up, and once more soon after
// the app asks (`syncSoon`, after an inspection is finished). A failure the network explains
// retries with exponential backoff; a refused sign-in or a store error does not retry.
package org.firegrid.app

import android.content.Context
import androidx.work.BackoffPolicy
import androidx.work.Constraints
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.ExistingWorkPolicy
import androidx.work.NetworkType
import androidx.work.OneTimeWorkRequestBuilder
import androidx.work.PeriodicWorkRequestBuilder
import androidx.work.WorkManager
import androidx.work.Worker
import androidx.work.WorkerParameters
import java.util.concurrent.TimeUnit

class SyncWorker(context: Context, params: WorkerParameters) : Worker(context, params) {
    // Worker.doWork runs on WorkManager's background executor: the blocking sync belongs there.
    override fun doWork(): Result {
        val app = applicationContext.firegrid
        if (app.session.saved == null) return Result.success() // nobody signed in
        val model = app.sync
        if (model.syncBlocking() != null) return Result.success()
        return if (model.state.retryable) Result.retry() else Result.failure()
    }

    companion object {
        private const val PERIODIC = "firegrid-sync"
        private const val SOON = "firegrid-sync-soon"

        private val online = Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build()

        fun schedule(context: Context) {
            val request = PeriodicWorkRequestBuilder<SyncWorker>(1, TimeUnit.HOURS)
                .setConstraints(online)
                .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, 30, TimeUnit.SECONDS)
                .build()
            WorkManager.getInstance(context).enqueueUniquePeriodicWork(PERIODIC, ExistingPeriodicWorkPolicy.KEEP, request)
        }

        fun syncSoon(context: Context) {
            val request = OneTimeWorkRequestBuilder<SyncWorker>()
                .setConstraints(online)
                .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, 30, TimeUnit.SECONDS)
                .build()
            WorkManager.getInstance(context).enqueueUniqueWork(SOON, ExistingWorkPolicy.REPLACE, request)
        }
    }
}
