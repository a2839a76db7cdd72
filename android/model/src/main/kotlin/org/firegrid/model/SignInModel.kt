// Sign-in and sign-out. Signing in logs in on the server for this phone, keeps the tokens in
// the vault and makes the user current on the device (a new or wiped phone syncs first, to
// receive the street's records). Signing out syncs what it can, wipes the
// phone's data (refused while changes have not reached the server, unless the user confirms
// giving them up), ends the login on the server and forgets the tokens. Every call blocks
// (network, SQLite): the screen calls these from a background dispatcher.
package org.firegrid.model

import org.firegrid.ffi.FiregridException
import org.firegrid.ffi.FiregridStore
import org.firegrid.ffi.User

data class SignInState(
    val serverUrl: String = "",
    val userId: String = "",
    val busy: Boolean = false,
    /** The signed-in user, or null: show the sign-in screen. */
    val user: User? = null,
    /** Records a sign-out would give up: ask the user to confirm (then `signOut(force = true)`). */
    val unsyncedAtSignOut: ULong? = null,
    /** A message about the last attempt, or null. */
    val error: String? = null,
    /** A note for people after a successful step (e.g. signed out), or null. */
    val notice: String? = null,
)

class SignInModel(
    private val store: FiregridStore,
    private val session: Session,
    texts: Texts = Texts("zh"),
) : StateModel<SignInState>(SignInState(), texts) {
    private fun fail(message: String) {
        update { it.copy(busy = false, error = message) }
    }

    /** At app start: the user already signed in on this phone, if any (works offline). */
    fun restore() {
        guarded(::fail) {
            val user = store.currentUser()?.takeIf { session.saved?.userId == it.id }
            val saved = session.saved
            update {
                it.copy(user = user, serverUrl = saved?.serverUrl ?: it.serverUrl, userId = saved?.userId ?: it.userId)
            }
        }
    }

    /** Logs in on the server and signs the user in on this phone. */
    fun signIn(serverUrl: String, userId: String, password: String) {
        val url = serverUrl.trim()
        val user = userId.trim()
        update { it.copy(serverUrl = url, userId = user, error = null, notice = null) }
        val missing = when {
            url.isEmpty() -> Msg.SERVER_URL_REQUIRED
            user.isEmpty() -> Msg.USER_REQUIRED
            password.isEmpty() -> Msg.PASSWORD_REQUIRED
            else -> null
        }
        if (missing != null) return fail(texts.get(missing))
        update { it.copy(busy = true) }
        try {
            val client = session.client(url)
            val login = store.login(client, user, password)
            session.remember(url, login.session)
            val signedIn = try {
                store.setCurrentUser(login.user.id)
            } catch (e: FiregridException.NotFound) {
                // A new or wiped phone holds no user records yet: the first sync brings them.
                store.sync(client, login.session.accessToken, null)
                store.setCurrentUser(login.user.id)
            }
            update { it.copy(busy = false, user = signedIn, error = null) }
        } catch (e: FiregridException.Unauthorized) {
            fail(texts.get(Msg.WRONG_CREDENTIALS))
        } catch (e: FiregridException.Invalid) {
            fail(if (e.field == "server_url") texts.get(Msg.SERVER_URL_INVALID, url) else texts.describe(e))
        } catch (e: FiregridException) {
            fail(texts.describe(e))
        }
    }

    /** The user chose to keep unsent work: back to the signed-in state. */
    fun dismissSignOut() {
        update { it.copy(unsyncedAtSignOut = null, error = null) }
    }

    /**
     * Signs out: syncs first when the server can be reached, then wipes the phone. With
     * changes still unsent the wipe is refused and `unsyncedAtSignOut` asks the user; `force`
     * gives them up.
     */
    fun signOut(force: Boolean = false) {
        update { it.copy(busy = true, error = null, notice = null) }
        val online = try {
            session.current()?.also { (client, token) -> store.sync(client, token, null) }
        } catch (e: FiregridException) {
            null // offline, or the session expired: the wipe decides with what is unsent
        }
        try {
            store.signOutAndWipe(force)
        } catch (e: FiregridException.UnsyncedChanges) {
            update { it.copy(busy = false, unsyncedAtSignOut = e.records + e.photos, error = texts.describe(e)) }
            return
        } catch (e: FiregridException) {
            return fail(texts.describe(e))
        }
        try {
            online?.let { (client, token) -> client.logout(token) }
        } catch (e: FiregridException) {
            // The tokens are forgotten below and expire; an admin can revoke the device.
        }
        session.forget()
        update { SignInState(serverUrl = it.serverUrl, notice = texts.get(Msg.SIGNED_OUT)) }
    }
}
