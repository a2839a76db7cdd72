// A photo from the camera as JPEG data (UIImagePickerController; the photo pipeline then
// processes and stores it). Needs NSCameraUsageDescription in Info.plist.
import SwiftUI
import UIKit

struct CameraPicker: UIViewControllerRepresentable {
    let onPicture: (Data) -> Void

    func makeCoordinator() -> Coordinator { Coordinator(onPicture: onPicture) }

    func makeUIViewController(context: Context) -> UIImagePickerController {
        let picker = UIImagePickerController()
        picker.sourceType = UIImagePickerController.isSourceTypeAvailable(.camera) ? .camera : .photoLibrary
        picker.delegate = context.coordinator
        return picker
    }

    func updateUIViewController(_ controller: UIImagePickerController, context: Context) {}

    final class Coordinator: NSObject, UIImagePickerControllerDelegate, UINavigationControllerDelegate {
        let onPicture: (Data) -> Void
        init(onPicture: @escaping (Data) -> Void) { self.onPicture = onPicture }

        func imagePickerController(_ picker: UIImagePickerController,
                                   didFinishPickingMediaWithInfo info: [UIImagePickerController.InfoKey: Any]) {
            // JPEG, not HEIC: the core decodes JPEG and PNG only.
            if let image = info[.originalImage] as? UIImage, let data = image.jpegData(compressionQuality: 0.92) {
                onPicture(data)
            }
            picker.dismiss(animated: true)
        }

        func imagePickerControllerDidCancel(_ picker: UIImagePickerController) {
            picker.dismiss(animated: true)
        }
    }
}
