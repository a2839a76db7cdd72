// The glue between the plain-Kotlin view models and Compose: a model's state as Compose state,
// and blocking model calls moved off the main thread.
package org.firegrid.app.ui

import androidx.compose.runtime.Composable
import androidx.compose.runtime.DisposableEffect
import androidx.compose.runtime.State
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import org.firegrid.model.StateModel

/** The model's state, recomposing on every change (observers may be called from any thread). */
@Composable
fun <S> StateModel<S>.collectState(): State<S> {
    val state = remember(this) { mutableStateOf(this.state) }
    DisposableEffect(this) {
        val subscription = observe { state.value = it }
        onDispose { subscription.close() }
    }
    return state
}

/** Every model call blocks (SQLite, network, image processing): run it on the IO dispatcher. */
fun CoroutineScope.background(block: () -> Unit) {
    launch(Dispatchers.IO) { block() }
}
