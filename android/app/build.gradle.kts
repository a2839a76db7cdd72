// The Firegrid Android app: Jetpack Compose screens that render the view models' state
// (`:model`), the store in noBackupFilesDir, tokens encrypted with an Android Keystore key,
// background sync with WorkManager. Not compiled on the CI machine (no Android SDK there).
plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
    alias(libs.plugins.kotlin.compose)
}

android {
    namespace = "org.firegrid.app"
    compileSdk = 35
    defaultConfig {
        applicationId = "org.firegrid.app"
        minSdk = 26
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        // The server the sign-in screen proposes; the user may change it.
        buildConfigField("String", "DEFAULT_SERVER", "\"https://firegrid.example.org\"")
    }
    buildFeatures {
        compose = true
        buildConfig = true
    }
    buildTypes {
        release {
            isMinifyEnabled = true
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"))
        }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    packaging {
        // The Rust library must keep its symbols for uniffi's lookups.
        jniLibs.keepDebugSymbols += "**/libfiregrid_ffi.so"
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    implementation(project(":model"))
    implementation(platform(libs.compose.bom))
    implementation(libs.compose.ui)
    implementation(libs.compose.material3)
    implementation(libs.compose.ui.tooling.preview)
    implementation(libs.androidx.activity.compose)
    implementation(libs.androidx.core.ktx)
    implementation(libs.androidx.lifecycle.runtime)
    implementation(libs.androidx.work.runtime)
    implementation(libs.kotlinx.coroutines.android)
}
