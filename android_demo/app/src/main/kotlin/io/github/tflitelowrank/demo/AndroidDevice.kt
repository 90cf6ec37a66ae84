package io.github.tflitelowrank.demo

import android.os.Build
import io.github.tflitelowrank.demo.core.DeviceInfo

/** This phone as the benchmark results record it. */
object AndroidDevice {
    /** Reads `Build` and asks LiteRT for its runtime version (a native call: not on the main thread). */
    fun info(): DeviceInfo = DeviceInfo(
        manufacturer = Build.MANUFACTURER,
        model = Build.MODEL,
        device = Build.DEVICE,
        androidRelease = Build.VERSION.RELEASE,
        sdkInt = Build.VERSION.SDK_INT,
        supportedAbis = Build.SUPPORTED_ABIS.toList(),
        cpuCores = Runtime.getRuntime().availableProcessors(),
        litertVersion = BuildConfig.LITERT_VERSION,
        litertRuntimeVersion = LiteRtClassifier.runtimeVersion(),
        numThreads = LiteRtClassifier.NUM_THREADS,
        xnnpack = LiteRtClassifier.USE_XNNPACK,
    )
}
