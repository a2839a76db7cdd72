// A photo from the camera app (ActivityResultContracts.TakePicture) into a cache file shared
// through the FileProvider; its bytes go to `onPicture` on the IO dispatcher (the photo
// pipeline processes and stores them), then the file is deleted. No camera permission is
// needed: the camera app takes the picture.
package org.firegrid.app.ui

import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.platform.LocalContext
import androidx.core.content.FileProvider
import java.io.File

@Composable
fun rememberCamera(onPicture: (ByteArray) -> Unit): () -> Unit {
    val context = LocalContext.current
    val scope = rememberCoroutineScope()
    // Saved across the activity being recreated while the camera app is in front.
    var pending by rememberSaveable { mutableStateOfPath() }
    val launcher = rememberLauncherForActivityResult(ActivityResultContracts.TakePicture()) { taken ->
        val file = pending?.let(::File) ?: return@rememberLauncherForActivityResult
        pending = null
        scope.background {
            try {
                if (taken && file.length() > 0) onPicture(file.readBytes())
            } finally {
                file.delete()
            }
        }
    }
    return {
        val dir = File(context.cacheDir, "camera").apply { mkdirs() }
        val file = File.createTempFile("shot", ".jpg", dir)
        pending = file.path
        launcher.launch(FileProvider.getUriForFile(context, "${context.packageName}.camera", file))
    }
}

private fun mutableStateOfPath() = androidx.compose.runtime.mutableStateOf<String?>(null)
