package io.github.tflitelowrank.demo

import android.content.res.AssetManager
import android.os.Debug
import io.github.tflitelowrank.demo.core.AssetSource
import io.github.tflitelowrank.demo.core.MemoryProbe
import java.io.FileNotFoundException
import java.io.InputStream

/** The APK's assets (app/src/main/assets at build time), read through [AssetManager]. */
class AndroidAssetSource(private val assets: AssetManager) : AssetSource {
    override val description: String = "the app assets (android_demo/app/src/main/assets)"

    override fun openOrNull(name: String): InputStream? = try {
        assets.open(name, AssetManager.ACCESS_STREAMING)
    } catch (e: FileNotFoundException) {
        null
    }
}

/**
 * Proportional set size of this process, in bytes. PSS counts the pages of the
 * memory-mapped model that were actually touched, plus the interpreter's heap and XNNPACK
 * buffers, which is what loading a model costs the phone. A GC first makes the Java heap
 * part less noisy.
 */
object PssMemoryProbe : MemoryProbe {
    override fun usedBytes(): Long {
        Runtime.getRuntime().gc()
        return Debug.getPss() * 1024L
    }
}
