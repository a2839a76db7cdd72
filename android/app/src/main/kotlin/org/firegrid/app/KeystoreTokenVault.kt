// The login's tokens at rest: AES-256-GCM with a key that lives in the Android Keystore (it
// never leaves the secure hardware and is not exportable), the ciphertext in private
// preferences excluded from backups. A restored or copied preferences file cannot be read on
// another phone.
package org.firegrid.app

import android.content.Context
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import android.util.Base64
import java.security.KeyStore
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec
import org.firegrid.model.SavedSession
import org.firegrid.model.TokenVault
import org.json.JSONObject

class KeystoreTokenVault(context: Context) : TokenVault {
    private val prefs = context.getSharedPreferences("firegrid_tokens", Context.MODE_PRIVATE)

    private fun key(): SecretKey {
        val ks = KeyStore.getInstance(KEYSTORE).apply { load(null) }
        (ks.getEntry(ALIAS, null) as? KeyStore.SecretKeyEntry)?.let { return it.secretKey }
        val spec = KeyGenParameterSpec.Builder(ALIAS, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
            .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
            .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
            .setKeySize(256)
            .build()
        return KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, KEYSTORE).apply { init(spec) }.generateKey()
    }

    @Synchronized
    override fun load(): SavedSession? {
        val sealed = prefs.getString(FIELD, null) ?: return null
        return try {
            val bytes = Base64.decode(sealed, Base64.NO_WRAP)
            val cipher = Cipher.getInstance(TRANSFORMATION)
            cipher.init(Cipher.DECRYPT_MODE, key(), GCMParameterSpec(128, bytes, 0, IV_BYTES))
            val json = JSONObject(String(cipher.doFinal(bytes, IV_BYTES, bytes.size - IV_BYTES), Charsets.UTF_8))
            SavedSession(
                serverUrl = json.getString("server"),
                userId = json.getString("user"),
                accessToken = json.getString("access"),
                accessExpiresMs = json.getLong("access_expires"),
                refreshToken = json.getString("refresh"),
                refreshExpiresMs = json.getLong("refresh_expires"),
            )
        } catch (e: java.security.GeneralSecurityException) {
            clear() // the key was lost (e.g. the lock screen was removed): sign in again
            null
        } catch (e: org.json.JSONException) {
            clear()
            null
        }
    }

    @Synchronized
    override fun save(session: SavedSession) {
        val json = JSONObject()
            .put("server", session.serverUrl)
            .put("user", session.userId)
            .put("access", session.accessToken)
            .put("access_expires", session.accessExpiresMs)
            .put("refresh", session.refreshToken)
            .put("refresh_expires", session.refreshExpiresMs)
        val cipher = Cipher.getInstance(TRANSFORMATION)
        cipher.init(Cipher.ENCRYPT_MODE, key())
        val sealed = cipher.iv + cipher.doFinal(json.toString().toByteArray(Charsets.UTF_8))
        check(cipher.iv.size == IV_BYTES)
        prefs.edit().putString(FIELD, Base64.encodeToString(sealed, Base64.NO_WRAP)).commit()
    }

    @Synchronized
    override fun clear() {
        prefs.edit().remove(FIELD).commit()
    }

    private companion object {
        const val KEYSTORE = "AndroidKeyStore"
        const val ALIAS = "firegrid.tokens"
        const val TRANSFORMATION = "AES/GCM/NoPadding"
        const val FIELD = "session"
        const val IV_BYTES = 12
    }
}
