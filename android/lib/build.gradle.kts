// The Firegrid native surface for Android: the Kotlin bindings uniffi generates from the Rust
// library, and libfiregrid_ffi.so for each ABI, built with cargo-ndk. Both are build outputs,
// never committed: `cargoNdk` builds the libraries into build/jniLibs, `uniffiBindings`
// generates the Kotlin into build/generated/uniffi (library mode, from the arm64 library).
// They run before every build where the NDK is installed (ANDROID_NDK_HOME, or the SDK's ndk/).
import org.gradle.api.tasks.Exec

plugins {
    alias(libs.plugins.android.library)
    alias(libs.plugins.kotlin.android)
}

val repoRoot: File = rootDir.parentFile
val jniOut = layout.buildDirectory.dir("jniLibs")
val bindingsOut = layout.buildDirectory.dir("generated/uniffi")
val abis = listOf("arm64-v8a", "armeabi-v7a", "x86_64")
val release = providers.gradleProperty("firegrid.debugNative").map { false }.orElse(true)

android {
    namespace = "org.firegrid.ffi"
    compileSdk = 35
    defaultConfig {
        minSdk = 26
        consumerProguardFiles("consumer-rules.pro")
    }
    sourceSets["main"].apply {
        jniLibs.srcDir(jniOut)
        java.srcDir(bindingsOut)
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

kotlin {
    jvmToolchain(17)
}

val cargoNdk by tasks.registering(Exec::class) {
    description = "Builds libfiregrid_ffi.so for $abis with cargo-ndk"
    workingDir = repoRoot
    val args = mutableListOf("cargo", "ndk", "--platform", "26")
    abis.forEach { args += listOf("-t", it) }
    args += listOf("-o", jniOut.get().asFile.path, "build", "-p", "firegrid-ffi", "--locked")
    if (release.get()) args += "--release"
    commandLine(args)
    inputs.dir(File(repoRoot, "core/src"))
    inputs.dir(File(repoRoot, "ffi/src"))
    inputs.file(File(repoRoot, "Cargo.lock"))
    outputs.dir(jniOut)
}

val uniffiBindings by tasks.registering(Exec::class) {
    description = "Generates the Kotlin bindings from the built library (uniffi library mode)"
    dependsOn(cargoNdk)
    workingDir = repoRoot
    val library = jniOut.get().file("arm64-v8a/libfiregrid_ffi.so").asFile.path
    commandLine(
        "cargo", "run", "--locked", "-p", "firegrid-ffi", "--features", "cli", "--bin", "uniffi-bindgen", "--",
        "generate", "--library", library, "--language", "kotlin", "--out-dir", bindingsOut.get().asFile.path,
    )
    inputs.dir(jniOut)
    outputs.dir(bindingsOut)
}

tasks.named("preBuild") { dependsOn(uniffiBindings) }

dependencies {
    // The AAR carries JNA's native dispatch library for Android's ABIs.
    api(libs.jna.aar) { artifact { type = "aar" } }
}
