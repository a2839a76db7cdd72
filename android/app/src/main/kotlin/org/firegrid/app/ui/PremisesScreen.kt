// Premises search: text, a category filter, and a list that asks for the next page at its end.
package org.firegrid.app.ui

import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.itemsIndexed
import androidx.compose.material3.FilterChip
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import org.firegrid.app.R
import org.firegrid.ffi.Category
import org.firegrid.model.PremisesSearchModel

private val categories = listOf(
    null to R.string.all_categories,
    Category.RESIDENTIAL to R.string.category_residential,
    Category.STREET_SHOP to R.string.category_street_shop,
    Category.LARGE_SITE to R.string.category_large_site,
)

@Composable
fun PremisesScreen(model: PremisesSearchModel, modifier: Modifier, onInspect: (String) -> Unit) {
    val state by model.collectState()
    val scope = rememberCoroutineScope()
    // The field keeps its own text (typing never waits for the store); each change searches.
    var text by rememberSaveable { mutableStateOf(state.query) }
    LaunchedEffect(model) { scope.background { model.search() } }
    Column(modifier.padding(8.dp)) {
        OutlinedTextField(
            value = text,
            onValueChange = { q ->
                text = q
                scope.background { model.search(q) }
            },
            label = { Text(stringResource(R.string.search)) },
            singleLine = true,
            modifier = Modifier.fillMaxWidth(),
        )
        Row {
            categories.forEach { (category, label) ->
                FilterChip(
                    selected = state.category == category,
                    onClick = { scope.background { model.search(category = category) } },
                    label = { Text(stringResource(label)) },
                    modifier = Modifier.padding(end = 4.dp),
                )
            }
        }
        state.error?.let { Text(it, color = MaterialTheme.colorScheme.error) }
        LazyColumn {
            itemsIndexed(state.items, key = { _, p -> p.id }) { index, p ->
                if (index == state.items.lastIndex && state.canLoadMore) {
                    LaunchedEffect(state.items.size) { scope.background { model.loadMore() } }
                }
                Column(Modifier.fillMaxWidth().clickable { onInspect(p.id) }.padding(vertical = 8.dp)) {
                    Text(p.name, style = MaterialTheme.typography.titleMedium)
                    Text(p.address, style = MaterialTheme.typography.bodySmall)
                    if (p.openHazards > 0u) {
                        Text(stringResource(R.string.open_hazards, p.openHazards.toInt()), color = MaterialTheme.colorScheme.error)
                    }
                }
                HorizontalDivider()
            }
        }
    }
}
