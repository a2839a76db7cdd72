// A photo's thumbnail (the JPEG the store holds) as an image, or the model's placeholder text
// while the device lacks it.
import SwiftUI
import UIKit

struct Thumbnail: View {
    let jpeg: Data?
    var placeholder: String = ""
    var size: CGFloat = 72

    var body: some View {
        Group {
            if let jpeg, let image = UIImage(data: jpeg) {
                Image(uiImage: image).resizable().scaledToFill()
            } else {
                Text(placeholder).font(.caption2).multilineTextAlignment(.center)
            }
        }
        .frame(width: size, height: size)
        .clipped()
    }
}
