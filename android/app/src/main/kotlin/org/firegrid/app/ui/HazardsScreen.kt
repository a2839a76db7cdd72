// My hazards: overdue and due-today counts, a status filter, each case with its deadline and
// the steps the user's role can take now. Steps that need evidence take a photo first; steps
// that need a reason ask for it; dispatch picks departments. Details opens the before/after
// photos of a case.
package org.firegrid.app.ui

import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Checkbox
import androidx.compose.material3.FilterChip
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
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
import org.firegrid.app.R
import org.firegrid.ffi.HazardAction
import org.firegrid.ffi.HazardStatus
import org.firegrid.model.ActionKind
import org.firegrid.model.Due
import org.firegrid.model.HazardRow
import org.firegrid.model.MyHazardsModel

private const val DAY_MS = 86_400_000L

private val labels = mapOf(
    ActionKind.FILE to R.string.action_file,
    ActionKind.DISPATCH to R.string.action_dispatch,
    ActionKind.REPORT_FIX to R.string.action_report_fix,
    ActionKind.REPORT_HANDLING to R.string.action_report_handling,
    ActionKind.VERIFY to R.string.action_verify,
    ActionKind.FAIL_VERIFICATION to R.string.action_fail_verification,
    ActionKind.CLOSE to R.string.action_close,
    ActionKind.REOPEN to R.string.action_reopen,
    ActionKind.SET_DEADLINE to R.string.action_set_deadline,
)

/** What a dialog is asking for before a step can be taken. */
private sealed interface Ask {
    data class Reason(val hazardId: String, val kind: ActionKind) : Ask
    data class Departments(val hazardId: String) : Ask
}

@Composable
fun HazardsScreen(model: MyHazardsModel, modifier: Modifier, onOpen: (String) -> Unit) {
    val state by model.collectState()
    val scope = rememberCoroutineScope()
    var ask by remember { mutableStateOf<Ask?>(null) }
    var photoFor by remember { mutableStateOf<Pair<String, ActionKind>?>(null) }
    val camera = rememberCamera { bytes ->
        val (id, kind) = photoFor ?: return@rememberCamera
        when (kind) {
            ActionKind.REPORT_FIX -> model.reportFix(id, listOf(bytes), null)
            ActionKind.REPORT_HANDLING -> model.reportHandling(id, listOf(bytes), "")
            else -> model.verify(id, listOf(bytes))
        }
    }
    LaunchedEffect(model) { scope.background { model.refresh() } }

    fun take(row: HazardRow, kind: ActionKind) {
        when (kind) {
            ActionKind.REPORT_FIX, ActionKind.REPORT_HANDLING, ActionKind.VERIFY -> {
                photoFor = row.id to kind
                camera()
            }
            ActionKind.FAIL_VERIFICATION, ActionKind.REOPEN -> ask = Ask.Reason(row.id, kind)
            ActionKind.DISPATCH -> ask = Ask.Departments(row.id)
            ActionKind.FILE -> scope.background { model.act(row.id, HazardAction.File(null, null)) }
            ActionKind.CLOSE -> scope.background { model.act(row.id, HazardAction.Close(null)) }
            ActionKind.SET_DEADLINE -> scope.background {
                val base = maxOf(row.deadlineMs ?: 0L, System.currentTimeMillis())
                model.act(row.id, HazardAction.SetDeadline(base + 7 * DAY_MS, null))
            }
        }
    }

    Column(modifier.padding(8.dp)) {
        Row {
            Text(stringResource(R.string.overdue_count, state.overdue), color = MaterialTheme.colorScheme.error)
            Text("  " + stringResource(R.string.due_today_count, state.dueToday))
        }
        Row {
            (listOf<HazardStatus?>(null) + HazardStatus.entries.filter { it != HazardStatus.CLOSED }).forEach { s ->
                FilterChip(
                    selected = state.status == s,
                    onClick = { scope.background { model.refresh(s) } },
                    label = { Text(if (s == null) stringResource(R.string.all_statuses) else model.statusText(s)) },
                    modifier = Modifier.padding(end = 4.dp),
                )
            }
        }
        state.error?.let { Text(it, color = MaterialTheme.colorScheme.error) }
        state.notice?.let { Text(it) }
        LazyColumn {
            items(state.rows, key = { it.id }) { row ->
                Column(Modifier.fillMaxWidth().padding(vertical = 8.dp)) {
                    Text(row.title, style = MaterialTheme.typography.titleMedium)
                    Row(verticalAlignment = Alignment.CenterVertically) {
                        Text(row.statusText)
                        Text(
                            "  " + row.deadlineText,
                            color = if (row.due == Due.OVERDUE || row.due == Due.TODAY) MaterialTheme.colorScheme.error
                            else MaterialTheme.colorScheme.onSurface,
                        )
                    }
                    Row {
                        OutlinedButton(onClick = { onOpen(row.id) }, modifier = Modifier.padding(end = 4.dp)) {
                            Text(stringResource(R.string.details))
                        }
                        row.actions.forEach { kind ->
                            OutlinedButton(onClick = { take(row, kind) }, modifier = Modifier.padding(end = 4.dp)) {
                                Text(stringResource(labels.getValue(kind)))
                            }
                        }
                    }
                }
                HorizontalDivider()
            }
        }
    }

    when (val a = ask) {
        is Ask.Reason -> ReasonDialog(onDismiss = { ask = null }) { reason ->
            ask = null
            scope.background {
                model.act(a.hazardId, if (a.kind == ActionKind.REOPEN) HazardAction.Reopen(reason) else HazardAction.FailVerification(reason, null))
            }
        }
        is Ask.Departments -> DepartmentsDialog(state.departments.map { it.id to model.name(it.name) }, onDismiss = { ask = null }) { ids ->
            ask = null
            scope.background { model.act(a.hazardId, HazardAction.Dispatch(ids, null)) }
        }
        null -> Unit
    }
}

@Composable
private fun ReasonDialog(onDismiss: () -> Unit, onConfirm: (String) -> Unit) {
    var reason by remember { mutableStateOf("") }
    AlertDialog(
        onDismissRequest = onDismiss,
        title = { Text(stringResource(R.string.reason)) },
        text = { OutlinedTextField(reason, { reason = it }, modifier = Modifier.fillMaxWidth()) },
        confirmButton = { TextButton(onClick = { onConfirm(reason) }, enabled = reason.isNotBlank()) { Text(stringResource(R.string.ok)) } },
        dismissButton = { TextButton(onClick = onDismiss) { Text(stringResource(R.string.cancel)) } },
    )
}

@Composable
private fun DepartmentsDialog(departments: List<Pair<String, String>>, onDismiss: () -> Unit, onConfirm: (List<String>) -> Unit) {
    var chosen by remember { mutableStateOf(setOf<String>()) }
    AlertDialog(
        onDismissRequest = onDismiss,
        title = { Text(stringResource(R.string.departments)) },
        text = {
            Column {
                departments.forEach { (id, name) ->
                    Row(verticalAlignment = Alignment.CenterVertically) {
                        Checkbox(checked = id in chosen, onCheckedChange = { on -> chosen = if (on) chosen + id else chosen - id })
                        Text(name)
                    }
                }
            }
        },
        confirmButton = { TextButton(onClick = { onConfirm(chosen.toList()) }, enabled = chosen.isNotEmpty()) { Text(stringResource(R.string.ok)) } },
        dismissButton = { TextButton(onClick = onDismiss) { Text(stringResource(R.string.cancel)) } },
    )
}
