// Sign-in: server, user, password; the model checks the fields and reports the server's answer.
package org.firegrid.app.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.material3.Button
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.text.input.PasswordVisualTransformation
import androidx.compose.ui.unit.dp
import org.firegrid.app.R
import org.firegrid.model.SignInModel

@Composable
fun SignInScreen(model: SignInModel, defaultServer: String) {
    val state by model.collectState()
    val scope = rememberCoroutineScope()
    var server by rememberSaveable { mutableStateOf(state.serverUrl.ifEmpty { defaultServer }) }
    var user by rememberSaveable { mutableStateOf(state.userId) }
    var password by remember { mutableStateOf("") }
    Column(Modifier.padding(24.dp).fillMaxWidth(), verticalArrangement = Arrangement.spacedBy(12.dp)) {
        Text(stringResource(R.string.app_name), style = MaterialTheme.typography.headlineMedium)
        OutlinedTextField(server, { server = it }, label = { Text(stringResource(R.string.server_url)) },
            singleLine = true, keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Uri), modifier = Modifier.fillMaxWidth())
        OutlinedTextField(user, { user = it }, label = { Text(stringResource(R.string.user_id)) },
            singleLine = true, modifier = Modifier.fillMaxWidth())
        OutlinedTextField(password, { password = it }, label = { Text(stringResource(R.string.password)) },
            singleLine = true, visualTransformation = PasswordVisualTransformation(),
            keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Password), modifier = Modifier.fillMaxWidth())
        state.error?.let { Text(it, color = MaterialTheme.colorScheme.error) }
        state.notice?.let { Text(it) }
        if (state.busy) {
            CircularProgressIndicator()
        } else {
            Button(onClick = { scope.background { model.signIn(server, user, password) } }, modifier = Modifier.fillMaxWidth()) {
                Text(stringResource(R.string.sign_in))
            }
        }
    }
}
