package io.github.tflitelowrank.demo.core.testing

import java.io.File
import java.nio.file.Files

/** Paths the tests need: the repository root and the committed assets fixture. */
object Fixtures {
    /**
     * The repository root, from the system property `tflite_lowrank.repo_root` (set by
     * jvm_test.sh and by the Gradle `:core:test` task) or else by walking up from the
     * working directory to the folder that holds `docs/contracts.md`.
     */
    fun repoRoot(): File {
        System.getProperty("tflite_lowrank.repo_root")?.let { return File(it) }
        System.getenv("TFLITE_LOWRANK_REPO_ROOT")?.let { return File(it) }
        var dir: File? = File("").absoluteFile
        while (dir != null) {
            if (File(dir, "docs/contracts.md").isFile) return dir
            dir = dir.parentFile
        }
        error("cannot find the repository root: set -Dtflite_lowrank.repo_root=/path/to/repo")
    }

    /** The committed fixture folder (core/src/test/resources/assets_fixture) on the classpath. */
    fun assetsFixture(): File {
        val url = Fixtures::class.java.getResource("/assets_fixture/manifest.json")
            ?: error("assets_fixture/manifest.json is not on the test classpath")
        return File(url.toURI()).parentFile
    }

    /** A fresh, writable copy of the fixture, for tests that break it on purpose. */
    fun copyOfAssetsFixture(): File {
        val target = Files.createTempDirectory("assets_fixture").toFile()
        target.deleteOnExit()
        assetsFixture().listFiles()!!.forEach { file ->
            val copy = File(target, file.name)
            file.copyTo(copy)
            copy.deleteOnExit()
        }
        return target
    }
}
