package io.github.tflitelowrank.demo.core

import java.io.IOException

/**
 * An error as the screen's error card shows it: a heading, what went wrong and what to do,
 * and the chain of causes (`IllegalStateException: …`, outermost first).
 */
data class FailureReport(val title: String, val message: String, val causes: List<String>) {
    companion object {
        private const val MAX_CAUSES = 6

        /**
         * Describes [error], thrown while doing [stage] (`loading the models`, written to follow
         * "while"). Never throws: any throwable, including `Error`s such as
         * `UnsatisfiedLinkError`, gets a card instead of crashing the app.
         */
        fun from(stage: String, error: Throwable): FailureReport {
            val detail = error.message?.takeIf { it.isNotBlank() } ?: error.javaClass.simpleName
            val causes = causeChain(error)
            return when (error) {
                is AssetException -> FailureReport(error.title, detail, causes)
                is UnsatisfiedLinkError -> FailureReport(
                    "LiteRT native library not loaded",
                    "The LiteRT native library could not be loaded while $stage: $detail. The APK may " +
                        "lack LiteRT's native code for this device's ABI (LiteRT ships arm64-v8a, " +
                        "armeabi-v7a, x86 and x86_64); rebuild it with the `litert` dependency and no ABI filter " +
                        "that excludes this device.",
                    causes,
                )
                is LinkageError -> FailureReport(
                    "LiteRT classes missing",
                    "A LiteRT class could not be linked while $stage: $detail. The app was built " +
                        "against another LiteRT version than the one packaged; keep `litert` and " +
                        "`litert-api` at the same version in gradle/libs.versions.toml.",
                    causes,
                )
                is OutOfMemoryError -> FailureReport(
                    "Out of memory",
                    "The app ran out of memory while $stage. Close other apps and try again.",
                    causes,
                )
                is IOException -> FailureReport(
                    "Could not read the assets",
                    "Reading the app's assets failed while $stage: $detail. Reinstall the app; if it " +
                        "happens again, ${AssetException.EXPORT_HINT.replaceFirstChar { it.lowercase() }}",
                    causes,
                )
                is IllegalArgumentException, is IllegalStateException -> FailureReport(
                    "LiteRT error",
                    "LiteRT failed while $stage: $detail",
                    causes,
                )
                else -> FailureReport(
                    "Unexpected error",
                    "${error.javaClass.simpleName} while $stage: $detail",
                    causes,
                )
            }
        }

        /** `Type: message` for [error] and each cause, outermost first, cycles cut. */
        fun causeChain(error: Throwable): List<String> {
            val seen = HashSet<Throwable>()
            val chain = ArrayList<String>()
            var current: Throwable? = error
            while (current != null && seen.add(current) && chain.size < MAX_CAUSES) {
                val message = current.message?.takeIf { it.isNotBlank() }
                chain += if (message == null) current.javaClass.name else "${current.javaClass.name}: $message"
                current = current.cause
            }
            return chain
        }
    }
}
