// The app's single graph of long-lived objects: one store per process (in noBackupFilesDir,
// never backed up), the session with its Keystore-encrypted tokens, and the view models the
// screens share. Opening the store blocks (SQLite): it happens once, off the main thread.
package org.firegrid.app

import android.app.Application
import java.io.File
import java.util.Locale
import org.firegrid.ffi.FiregridStore
import org.firegrid.ffi.PhotoRef
import org.firegrid.model.HazardDetailModel
import org.firegrid.model.MyHazardsModel
import org.firegrid.model.PremisesSearchModel
import org.firegrid.model.Session
import org.firegrid.model.SignInModel
import org.firegrid.model.SyncStatusModel
import org.firegrid.model.Texts

class FiregridApp : Application() {
    /** The store file: app-private, excluded from backups, next to its `.photos` folder. */
    val storePath: String get() = File(noBackupFilesDir, "firegrid.db").path

    val store: FiregridStore by lazy { FiregridStore.open(storePath) }
    val session: Session by lazy { Session(KeystoreTokenVault(this)) }
    val texts: Texts get() = Texts(Locale.getDefault().toLanguageTag())

    private val settings by lazy { getSharedPreferences("firegrid", MODE_PRIVATE) }

    /**
     * Whether photos keep the GPS position the camera recorded (the worker's choice, on by
     * default: the before/after distance check needs it).
     */
    var keepPhotoLocation: Boolean
        get() = settings.getBoolean("keep_photo_location", true)
        set(value) = settings.edit().putBoolean("keep_photo_location", value).apply()

    /** Camera bytes → processed, stored photo (the core's photo pipeline, #5). */
    val addPhoto: (ByteArray) -> PhotoRef = { bytes -> store.addPhoto(bytes, keepPhotoLocation) }

    val signIn by lazy { SignInModel(store, session, texts) }
    val premises by lazy { PremisesSearchModel(store, texts) }
    val hazards by lazy { MyHazardsModel(store, texts, addPhoto) }
    val sync by lazy { SyncStatusModel(store, session, texts) }
    val hazardDetail by lazy { HazardDetailModel(store, session, texts) }

    override fun onCreate() {
        super.onCreate()
        SyncWorker.schedule(this)
    }
}

val android.content.Context.firegrid: FiregridApp get() = applicationContext as FiregridApp
