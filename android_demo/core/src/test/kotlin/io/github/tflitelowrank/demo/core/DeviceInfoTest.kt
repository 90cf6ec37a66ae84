package io.github.tflitelowrank.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Test

class DeviceInfoTest {
    private val pixel = DeviceInfo(
        manufacturer = "Google",
        model = "Pixel 7",
        device = "panther",
        androidRelease = "14",
        sdkInt = 34,
        supportedAbis = listOf("arm64-v8a", "armeabi-v7a", "armeabi"),
        cpuCores = 8,
        litertVersion = "1.4.1",
        litertRuntimeVersion = "2.19.0",
        numThreads = 1,
        xnnpack = true,
    )

    @Test
    fun formatsEveryLine() {
        assertEquals(
            listOf(
                "Device" to "Google Pixel 7 (panther)",
                "OS" to "Android 14 (API 34)",
                "ABI" to "arm64-v8a (also supports armeabi-v7a, armeabi)",
                "Runtime" to "LiteRT 1.4.1 (native runtime 2.19.0)",
                "Threads" to "1 interpreter thread, XNNPACK on, 8 CPU cores",
            ),
            pixel.lines(),
        )
        assertFalse(pixel.likelyEmulator)
    }

    @Test
    fun doesNotRepeatTheManufacturerAndLeavesOutWhatIsUnknown() {
        val samsung = pixel.copy(manufacturer = "samsung", model = "SAMSUNG SM-S911B", device = "", litertRuntimeVersion = null)
        assertEquals("SAMSUNG SM-S911B", samsung.deviceName())
        assertEquals("LiteRT 1.4.1", samsung.runtime())
        val plural = pixel.copy(numThreads = 4, xnnpack = false, cpuCores = 1)
        assertEquals("4 interpreter threads, XNNPACK off, 1 CPU core", plural.threads())
    }

    @Test
    fun flagsAnX86EmulatorAndAMissingAbi() {
        val emulator = pixel.copy(manufacturer = "Google", model = "sdk_gphone64_x86_64", supportedAbis = listOf("x86_64", "arm64-v8a"))
        assertTrue(emulator.likelyEmulator)
        assertEquals("x86_64 (also supports arm64-v8a): probably an emulator, not a phone", emulator.abi())
        assertEquals("unknown", pixel.copy(supportedAbis = emptyList()).abi())
    }
}
