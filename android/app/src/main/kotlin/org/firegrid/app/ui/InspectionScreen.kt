// The inspection form of any category: each item pass / fail / n.a., a note, photos from the
// camera (through the photo pipeline, shown as thumbnails), and finishing, which points at the items still missing.
package org.firegrid.app.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.Button
import androidx.compose.material3.FilterChip
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import kotlinx.coroutines.delay
import org.firegrid.app.FiregridApp
import org.firegrid.app.R
import org.firegrid.app.SyncWorker
import org.firegrid.ffi.AnswerResult
import org.firegrid.model.FormItem
import org.firegrid.model.InspectionFormModel

private val results = listOf(
    AnswerResult.PASS to R.string.pass,
    AnswerResult.FAIL to R.string.fail,
    AnswerResult.NOT_APPLICABLE to R.string.not_applicable,
)

@Composable
fun InspectionScreen(app: FiregridApp, premisesId: String, modifier: Modifier, onDone: () -> Unit) {
    val model = remember(premisesId) { InspectionFormModel(app.store, app.texts, app.addPhoto) }
    val state by model.collectState()
    val scope = rememberCoroutineScope()
    LaunchedEffect(model) { scope.background { model.start(premisesId) } }
    Column(modifier.padding(8.dp)) {
        Text(state.title, style = MaterialTheme.typography.titleLarge)
        state.error?.let { Text(it, color = MaterialTheme.colorScheme.error) }
        val hazards = state.finishedHazards
        if (hazards != null) {
            Text(stringResource(R.string.finished, hazards.size))
            Button(onClick = onDone) { Text(stringResource(R.string.ok)) }
            return@Column
        }
        LazyColumn(Modifier.weight(1f)) {
            items(state.items, key = { it.id }) { item ->
                ItemRow(item, attention = item.id in state.needsAttention,
                    onAnswer = { result, note -> scope.background { model.answer(item.id, result, note) } },
                    onPicture = { bytes -> model.capture(item.id, bytes) })
            }
        }
        Button(onClick = {
            scope.background {
                model.finish()
                if (model.state.finishedHazards != null) SyncWorker.syncSoon(app)
            }
        }, modifier = Modifier.fillMaxWidth()) { Text(stringResource(R.string.finish)) }
    }
}

@Composable
private fun ItemRow(item: FormItem, attention: Boolean, onAnswer: (AnswerResult, String?) -> Unit, onPicture: (ByteArray) -> Unit) {
    var note by remember(item.id) { mutableStateOf(item.note.orEmpty()) }
    val camera = rememberCamera(onPicture)
    Column(Modifier.fillMaxWidth().padding(vertical = 8.dp)) {
        Text(item.text, color = if (attention) MaterialTheme.colorScheme.error else MaterialTheme.colorScheme.onSurface)
        if (item.photoRequiredOnFail) Text(stringResource(R.string.photo_required), style = MaterialTheme.typography.bodySmall)
        Row {
            results.forEach { (result, label) ->
                FilterChip(selected = item.result == result, onClick = { onAnswer(result, note) },
                    label = { Text(stringResource(label)) }, modifier = Modifier.padding(end = 4.dp))
            }
            OutlinedButton(onClick = camera) { Text(stringResource(R.string.take_photo)) }
        }
        if (item.photos.isNotEmpty()) {
            Text(stringResource(R.string.photos, item.photos.size))
            Row(horizontalArrangement = Arrangement.spacedBy(4.dp)) {
                item.photos.forEach { sha -> Thumbnail(item.thumbnails[sha], item.text) }
            }
        }
        OutlinedTextField(
            value = note,
            onValueChange = { note = it },
            label = { Text(stringResource(R.string.note)) },
            modifier = Modifier.fillMaxWidth(),
        )
        // The note is saved with the result; typing after choosing saves it once the typing pauses.
        LaunchedEffect(note) {
            delay(600)
            item.result?.let { if (note != item.note.orEmpty()) onAnswer(it, note) }
        }
    }
}
