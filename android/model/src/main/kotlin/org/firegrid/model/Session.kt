// Who is signed in and with which tokens. The tokens live in a [TokenVault]: on Android the
// app's KeystoreTokenVault (encrypted with an Android Keystore key), on iOS the Keychain; the
// JVM tests use [MemoryTokenVault]. [Session] hands out a valid access token, refreshing it
// (and saving the rotated pair) when it is about to expire.
package org.firegrid.model

import org.firegrid.ffi.SyncClient

/** What is kept between app starts: the server and the login's tokens. */
data class SavedSession(
    val serverUrl: String,
    val userId: String,
    val accessToken: String,
    val accessExpiresMs: Long,
    val refreshToken: String,
    val refreshExpiresMs: Long,
)

/** Where the tokens are kept (secret storage). Implementations must be thread-safe. */
interface TokenVault {
    fun load(): SavedSession?
    fun save(session: SavedSession)
    fun clear()
}

/** Tokens in memory only: for tests and for a session that must not outlive the process. */
class MemoryTokenVault : TokenVault {
    @Volatile
    private var saved: SavedSession? = null
    override fun load() = saved
    override fun save(session: SavedSession) {
        saved = session
    }
    override fun clear() {
        saved = null
    }
}

fun org.firegrid.ffi.Session.saved(serverUrl: String) = SavedSession(
    serverUrl = serverUrl,
    userId = userId,
    accessToken = accessToken,
    accessExpiresMs = accessExpiresMs,
    refreshToken = refreshToken,
    refreshExpiresMs = refreshExpiresMs,
)

/**
 * The signed-in session: one [SyncClient] per server (a connection pool, shared) and the tokens
 * in the vault. Thread-safe; [accessToken] blocks (network) when it refreshes.
 */
class Session(
    private val vault: TokenVault,
    private val now: () -> Long = System::currentTimeMillis,
) {
    private var client: Pair<String, SyncClient>? = null

    /** The client of [serverUrl], made once and shared. */
    @Synchronized
    fun client(serverUrl: String): SyncClient {
        client?.let { (url, c) -> if (url == serverUrl) return c else c.close() }
        return SyncClient(serverUrl).also { client = serverUrl to it }
    }

    val saved: SavedSession? get() = vault.load()

    /** Keeps a new login's tokens. */
    fun remember(serverUrl: String, session: org.firegrid.ffi.Session) = vault.save(session.saved(serverUrl))

    /**
     * The client and a valid access token, refreshing the pair a minute before it expires.
     * Null when nobody is signed in. A refused refresh (`Unauthorized`) clears the vault: the
     * user signs in again.
     */
    @Synchronized
    fun current(): Pair<SyncClient, String>? {
        val s = vault.load() ?: return null
        val client = client(s.serverUrl)
        if (s.accessExpiresMs - 60_000 > now()) return client to s.accessToken
        val fresh = try {
            client.refresh(s.refreshToken)
        } catch (e: org.firegrid.ffi.FiregridException.Unauthorized) {
            vault.clear()
            throw e
        }
        remember(s.serverUrl, fresh)
        return client to fresh.accessToken
    }

    /** Forgets the tokens (after logging out on the server, or when it cannot be reached). */
    fun forget() = vault.clear()
}
