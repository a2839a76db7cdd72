// The one activity: sign-in until someone is signed in, then three tabs (premises, my hazards,
// sync), the inspection form opened from a premises and a hazard's detail from my hazards. Navigation is a small back stack of
// screens kept in Compose state; every screen renders a view model's state.
package org.firegrid.app

import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.BackHandler
import androidx.activity.compose.setContent
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Scaffold
import androidx.compose.material3.TabRow
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import org.firegrid.app.ui.HazardDetailScreen
import org.firegrid.app.ui.HazardsScreen
import org.firegrid.app.ui.InspectionScreen
import org.firegrid.app.ui.PremisesScreen
import org.firegrid.app.ui.SignInScreen
import org.firegrid.app.ui.SyncScreen
import org.firegrid.app.ui.collectState

class MainActivity : ComponentActivity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContent { MaterialTheme { FiregridNav(application as FiregridApp) } }
    }
}

private enum class Tab(val label: Int) { PREMISES(R.string.tab_premises), HAZARDS(R.string.tab_hazards), SYNC(R.string.tab_sync) }

@Composable
private fun FiregridNav(app: FiregridApp) {
    var ready by remember { mutableStateOf(false) }
    LaunchedEffect(Unit) {
        withContext(Dispatchers.IO) { app.signIn.restore() } // opens the store: off the main thread
        ready = true
    }
    if (!ready) return
    val signIn by app.signIn.collectState()
    if (signIn.user == null) {
        SignInScreen(app.signIn, BuildConfig.DEFAULT_SERVER)
        return
    }
    var tab by rememberSaveable { mutableStateOf(Tab.PREMISES) }
    var inspecting by rememberSaveable { mutableStateOf<String?>(null) }
    var detail by rememberSaveable { mutableStateOf<String?>(null) }
    BackHandler(enabled = inspecting != null || detail != null) {
        inspecting = null
        detail = null
    }
    Scaffold(
        topBar = {
            if (inspecting == null && detail == null) {
                TabRow(selectedTabIndex = tab.ordinal) {
                    Tab.entries.forEach { t ->
                        androidx.compose.material3.Tab(selected = t == tab, onClick = { tab = t }, text = { Text(stringResource(t.label)) })
                    }
                }
            }
        },
    ) { padding ->
        val modifier = Modifier.padding(padding)
        val premisesId = inspecting
        val hazardId = detail
        when {
            premisesId != null -> InspectionScreen(app, premisesId, modifier) { inspecting = null }
            hazardId != null -> HazardDetailScreen(app.hazardDetail, hazardId, modifier) { detail = null }
            tab == Tab.PREMISES -> PremisesScreen(app.premises, modifier) { inspecting = it }
            tab == Tab.HAZARDS -> HazardsScreen(app.hazards, modifier) { detail = it }
            else -> SyncScreen(app, modifier)
        }
    }
}
