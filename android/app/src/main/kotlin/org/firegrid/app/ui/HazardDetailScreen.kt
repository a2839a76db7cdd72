// One hazard case: its status and the before/after photo pairs side by side (整改前后对比),
// each with the distance between the two photos and the far-away warning. Thumbnails the phone
// lacks are fetched by the model (network: off the main thread) and appear as they arrive.
package org.firegrid.app.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.Button
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import org.firegrid.app.R
import org.firegrid.model.HazardDetailModel

@Composable
fun HazardDetailScreen(model: HazardDetailModel, hazardId: String, modifier: Modifier, onBack: () -> Unit) {
    val state by model.collectState()
    val scope = rememberCoroutineScope()
    LaunchedEffect(hazardId) { scope.background { model.open(hazardId) } }
    Column(modifier.padding(8.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
        Text(state.title, style = MaterialTheme.typography.titleLarge)
        Text(state.statusText)
        state.error?.let { Text(it, color = MaterialTheme.colorScheme.error) }
        if (state.pairs.isEmpty()) Text(stringResource(R.string.no_photo_pairs))
        LazyColumn(Modifier.weight(1f)) {
            items(state.pairs, key = { it.eventId }) { pair ->
                Column(Modifier.fillMaxWidth().padding(vertical = 8.dp)) {
                    Text(pair.kindText, style = MaterialTheme.typography.titleSmall)
                    Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                        Column {
                            Text(stringResource(R.string.before_photo), style = MaterialTheme.typography.bodySmall)
                            Thumbnail(pair.before.thumbnail, stringResource(R.string.before_photo), pair.before.placeholder, 140.dp)
                        }
                        Column {
                            Text(pair.kindText, style = MaterialTheme.typography.bodySmall)
                            Thumbnail(pair.after.thumbnail, pair.kindText, pair.after.placeholder, 140.dp)
                        }
                    }
                    Text(pair.distanceText, style = MaterialTheme.typography.bodySmall)
                    pair.farText?.let { Text(it, color = MaterialTheme.colorScheme.error) }
                }
                HorizontalDivider()
            }
        }
        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            OutlinedButton(onClick = { scope.background { model.fetchMissing() } }) { Text(stringResource(R.string.retry_photos)) }
            Button(onClick = onBack) { Text(stringResource(R.string.back)) }
        }
    }
}
