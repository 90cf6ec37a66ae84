import org.jetbrains.kotlin.gradle.dsl.JvmTarget

// Pure Kotlin/JVM: no Android APIs, so the same sources are compiled and tested on a
// plain JVM by scripts/jvm_test.sh (no Gradle needed there).
plugins {
    alias(libs.plugins.kotlin.jvm)
}

java {
    sourceCompatibility = JavaVersion.VERSION_17
    targetCompatibility = JavaVersion.VERSION_17
}

kotlin {
    compilerOptions {
        jvmTarget.set(JvmTarget.JVM_17)
        allWarningsAsErrors.set(true)
    }
}

dependencies {
    testImplementation(libs.junit)
}

tasks.test {
    useJUnit()
    // TokenizerCasesTest reads tests/data/tokenizer_cases.json from the repository root.
    systemProperty("tflite_lowrank.repo_root", rootProject.projectDir.parentFile.absolutePath)
}
