// The shape every view model shares: an immutable state, replaced as a whole, that screens
// observe. Plain Kotlin (no Android classes): Compose collects it through `observe`, and the
// JVM tests read `state` directly.
package org.firegrid.model

import java.util.concurrent.CopyOnWriteArrayList
import org.firegrid.ffi.FiregridException

abstract class StateModel<S>(initial: S, protected val texts: Texts) {
    @Volatile
    var state: S = initial
        private set
    private val observers = CopyOnWriteArrayList<(S) -> Unit>()
    private val lock = Any()

    /** Calls [observer] with the state now and after every change, until closed. */
    fun observe(observer: (S) -> Unit): AutoCloseable {
        observers.add(observer)
        observer(state)
        return AutoCloseable { observers.remove(observer) }
    }

    /** Replaces the state with `change(current)` atomically, then tells the observers. */
    protected fun update(change: (S) -> S): S {
        val next = synchronized(lock) { change(state).also { state = it } }
        observers.forEach { it(next) }
        return next
    }

    /**
     * Runs one blocking store call; a failure becomes a message through [onError] (the state's
     * error field). Returns the block's value, or null when it failed.
     */
    protected inline fun <T> guarded(onError: (String) -> Unit, block: () -> T): T? = try {
        block()
    } catch (e: FiregridException) {
        onError(texts.describe(e))
        null
    }
}
