// A photo's thumbnail (the JPEG bytes the store holds) as an image, or the model's placeholder
// text while the device lacks it. Decoding 256 px JPEGs is cheap enough for composition.
package org.firegrid.app.ui

import android.graphics.BitmapFactory
import androidx.compose.foundation.Image
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.size
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.remember
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.asImageBitmap
import androidx.compose.ui.layout.ContentScale
import androidx.compose.ui.unit.Dp
import androidx.compose.ui.unit.dp

@Composable
fun Thumbnail(jpeg: ByteArray?, description: String, placeholder: String = "", size: Dp = 96.dp) {
    val bitmap = remember(jpeg) { jpeg?.let { BitmapFactory.decodeByteArray(it, 0, it.size)?.asImageBitmap() } }
    Box(Modifier.size(size), contentAlignment = Alignment.Center) {
        if (bitmap != null) {
            Image(bitmap, contentDescription = description, contentScale = ContentScale.Crop, modifier = Modifier.size(size))
        } else {
            Text(placeholder, style = MaterialTheme.typography.bodySmall)
        }
    }
}
