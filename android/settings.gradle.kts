// The Firegrid Android project (issue #6). Needs the Android SDK (and the NDK plus cargo-ndk for
// the native library); none of it is compiled on the CI machine, which compiles and tests the
// view models (`model/`) and the binding tests with kotlinc on the JVM (scripts/foreign-tests).
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "firegrid"

// lib: the generated Kotlin bindings + libfiregrid_ffi.so for each ABI (cargo-ndk).
// model: the view models, plain Kotlin over the bindings (no Android classes).
// app: the Compose screens, Keystore, WorkManager.
include(":lib", ":model", ":app")
