// The view models: plain Kotlin over the bindings, no Android classes (kotlinc compiles and
// tests them on the JVM in scripts/foreign-tests; here `testDebugUnitTest` runs the same tests
// with the host library on jna.library.path, as application-services tests its components).
plugins {
    alias(libs.plugins.android.library)
    alias(libs.plugins.kotlin.android)
}

val repoRoot: File = rootDir.parentFile

android {
    namespace = "org.firegrid.model"
    compileSdk = 35
    defaultConfig { minSdk = 26 }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    sourceSets["test"].java.srcDir(File(repoRoot, "android/bindings-test/src/test/kotlin"))
    testOptions.unitTests.all {
        // The host build of the library and the server the tests sync with: run
        // `cargo build -p firegrid-ffi -p firegrid-server` first.
        it.systemProperty("jna.library.path", File(repoRoot, "target/debug").path)
        it.systemProperty("firegrid.server", File(repoRoot, "target/debug/firegrid-server").path)
        it.systemProperty("firegrid.fixtures", File(repoRoot, "fixtures").path)
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    api(project(":lib"))
    testImplementation(libs.junit)
    testImplementation(libs.jna.jar)
}
