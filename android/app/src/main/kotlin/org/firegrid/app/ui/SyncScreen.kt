// Sync status: a progress bar while a sync runs (determinate while sending, indeterminate
// while pages come in), then the photo upload's bar (photos and bytes), the last results and
// refusals (records and photos), what waits to be sent, whether photos keep their position,
// and sign-out (which asks before giving up unsent work).
package org.firegrid.app.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Button
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Switch
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import java.text.DateFormat
import java.util.Date
import org.firegrid.app.FiregridApp
import org.firegrid.app.R
import org.firegrid.model.SignInModel
import org.firegrid.model.SyncStatusModel

@Composable
fun SyncScreen(app: FiregridApp, modifier: Modifier) {
    val model: SyncStatusModel = app.sync
    val signIn: SignInModel = app.signIn
    val deviceId = remember { app.store.deviceId() }
    var keepLocation by remember { mutableStateOf(app.keepPhotoLocation) }
    val state by model.collectState()
    val account by signIn.collectState()
    val scope = rememberCoroutineScope()
    LaunchedEffect(model) { scope.background { model.refresh() } }
    Column(modifier.padding(16.dp).fillMaxWidth(), verticalArrangement = Arrangement.spacedBy(12.dp)) {
        val progress = state.progress
        when {
            state.running && progress != null -> LinearProgressIndicator(progress = { progress.toFloat() }, modifier = Modifier.fillMaxWidth())
            state.running -> LinearProgressIndicator(modifier = Modifier.fillMaxWidth())
        }
        val photos = state.photoFraction
        if (state.running && state.photoProgress != null) {
            if (photos != null) LinearProgressIndicator(progress = { photos.toFloat() }, modifier = Modifier.fillMaxWidth())
            else LinearProgressIndicator(modifier = Modifier.fillMaxWidth())
            Text(state.photoProgressText)
        }
        Text(state.lastResult)
        if (state.photoResult.isNotEmpty()) Text(state.photoResult)
        Text(state.unsyncedText)
        Text(state.photosWaitingText)
        state.lastSyncMs?.let { Text(stringResource(R.string.last_sync, DateFormat.getDateTimeInstance().format(Date(it)))) }
        state.error?.let { Text(it, color = MaterialTheme.colorScheme.error) }
        if (state.refusals.isNotEmpty()) {
            Text(stringResource(R.string.refused), style = MaterialTheme.typography.titleSmall)
            state.refusals.forEach { Text(it, style = MaterialTheme.typography.bodySmall) }
        }
        if (state.photoRefusals.isNotEmpty()) {
            Text(stringResource(R.string.photo_refused), style = MaterialTheme.typography.titleSmall)
            state.photoRefusals.forEach { Text(it, style = MaterialTheme.typography.bodySmall) }
        }
        Row(verticalAlignment = Alignment.CenterVertically) {
            Switch(checked = keepLocation, onCheckedChange = {
                keepLocation = it
                app.keepPhotoLocation = it
            })
            Text(stringResource(R.string.keep_photo_location))
        }
        Button(onClick = { model.syncNow() }, enabled = !state.running, modifier = Modifier.fillMaxWidth()) {
            Text(stringResource(R.string.sync_now))
        }
        OutlinedButton(onClick = { scope.background { signIn.signOut() } }, enabled = !account.busy, modifier = Modifier.fillMaxWidth()) {
            Text(stringResource(R.string.sign_out))
        }
        account.error?.let { Text(it, color = MaterialTheme.colorScheme.error) }
        Text(stringResource(R.string.device_id, deviceId), style = MaterialTheme.typography.bodySmall)
    }
    if (account.unsyncedAtSignOut != null) {
        AlertDialog(
            onDismissRequest = { signIn.dismissSignOut() },
            text = { Text(account.error.orEmpty()) },
            confirmButton = { TextButton(onClick = { scope.background { signIn.signOut(force = true) } }) { Text(stringResource(R.string.sign_out_anyway)) } },
            dismissButton = { TextButton(onClick = { signIn.dismissSignOut() }) { Text(stringResource(R.string.cancel)) } },
        )
    }
}
