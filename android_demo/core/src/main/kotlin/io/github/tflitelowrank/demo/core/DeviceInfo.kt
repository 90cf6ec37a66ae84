package io.github.tflitelowrank.demo.core

/**
 * Where a benchmark ran: recorded with the results so numbers from different phones can be
 * told apart. The app fills it from `android.os.Build` and LiteRT; tests build it directly.
 */
data class DeviceInfo(
    /** `Build.MANUFACTURER`, e.g. `Google`. */
    val manufacturer: String,
    /** `Build.MODEL`, e.g. `Pixel 7`. */
    val model: String,
    /** `Build.DEVICE` (the code name), e.g. `panther`; null or blank to leave out. */
    val device: String?,
    /** `Build.VERSION.RELEASE`, e.g. `14`. */
    val androidRelease: String,
    /** `Build.VERSION.SDK_INT`. */
    val sdkInt: Int,
    /** `Build.SUPPORTED_ABIS`, preferred first; the APK's native code runs as the first. */
    val supportedAbis: List<String>,
    /** `Runtime.availableProcessors()`. */
    val cpuCores: Int,
    /** The LiteRT Maven artifact version the app was built with, e.g. `1.4.1`. */
    val litertVersion: String,
    /** What the native LiteRT library reports (`TensorFlowLite.runtimeVersion()`), null if unknown. */
    val litertRuntimeVersion: String?,
    /** Interpreter threads. */
    val numThreads: Int,
    val xnnpack: Boolean,
) {
    val primaryAbi: String get() = supportedAbis.firstOrNull() ?: "unknown"

    /** x86 ABIs are emulators (or rare x86 tablets): their timings say nothing about a phone's. */
    val likelyEmulator: Boolean get() = primaryAbi.startsWith("x86")

    /** `Google Pixel 7 (panther)`; the manufacturer is not repeated when the model names it. */
    fun deviceName(): String {
        val name = if (model.startsWith(manufacturer, ignoreCase = true)) model else "$manufacturer $model"
        return if (device.isNullOrBlank()) name else "$name ($device)"
    }

    /** `Android 14 (API 34)`. */
    fun androidVersion(): String = "Android $androidRelease (API $sdkInt)"

    /** `arm64-v8a (also supports armeabi-v7a, armeabi)`. */
    fun abi(): String {
        val others = supportedAbis.drop(1)
        val text = if (others.isEmpty()) primaryAbi else "$primaryAbi (also supports ${others.joinToString()})"
        return if (likelyEmulator) "$text: probably an emulator, not a phone" else text
    }

    /** `LiteRT 1.4.1 (native runtime 2.19.0)`. */
    fun runtime(): String = "LiteRT $litertVersion" + (litertRuntimeVersion?.let { " (native runtime $it)" } ?: "")

    /** `1 interpreter thread, XNNPACK on, 8 CPU cores`. */
    fun threads(): String =
        "$numThreads interpreter thread${if (numThreads == 1) "" else "s"}, XNNPACK ${if (xnnpack) "on" else "off"}, " +
            "$cpuCores CPU core${if (cpuCores == 1) "" else "s"}"

    /** Label and value pairs, for the screen and the Markdown export. */
    fun lines(): List<Pair<String, String>> = listOf(
        "Device" to deviceName(),
        "OS" to androidVersion(),
        "ABI" to abi(),
        "Runtime" to runtime(),
        "Threads" to threads(),
    )
}
