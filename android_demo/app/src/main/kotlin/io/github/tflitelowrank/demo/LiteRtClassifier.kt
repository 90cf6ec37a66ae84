package io.github.tflitelowrank.demo

import android.content.res.AssetManager
import io.github.tflitelowrank.demo.core.AssetException
import io.github.tflitelowrank.demo.core.Classifier
import io.github.tflitelowrank.demo.core.Manifest
import io.github.tflitelowrank.demo.core.ModelEntry
import io.github.tflitelowrank.demo.core.ModelIo
import io.github.tflitelowrank.demo.core.TensorSpec
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.Tensor
import org.tensorflow.lite.TensorFlowLite
import java.io.FileInputStream
import java.io.FileNotFoundException
import java.io.IOException
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel

/**
 * A [Classifier] backed by the LiteRT `Interpreter` API: one thread, XNNPACK on, the model
 * memory-mapped from the APK's assets (never copied into the Java heap).
 *
 * Input and output are direct, native-order buffers allocated once and reused: LiteRT
 * copies them with a memcpy instead of walking `Array<IntArray>` by reflection. After each
 * [classify], [lastInferenceNanos] is LiteRT's `getLastNativeInferenceDurationNanoseconds()`:
 * the native `invoke()` alone, measured after the input was copied in and before the output
 * is copied out. That is what the desktop benchmark (`tflite_lowrank.benchmark`) times.
 *
 * Not thread-safe, like `Interpreter` itself: use one instance from one thread.
 */
class LiteRtClassifier private constructor(
    override val key: String,
    private val interpreter: Interpreter,
    private val seqLen: Int,
    private val numLabels: Int,
) : Classifier {
    private val input: ByteBuffer = ByteBuffer.allocateDirect(seqLen * Int.SIZE_BYTES).order(ByteOrder.nativeOrder())
    private val output: ByteBuffer = ByteBuffer.allocateDirect(numLabels * Float.SIZE_BYTES).order(ByteOrder.nativeOrder())
    private var closed = false

    override var lastInferenceNanos: Long? = null
        private set

    override fun classify(tokenIds: IntArray): FloatArray {
        check(!closed) { "`$key` was closed" }
        require(tokenIds.size == seqLen) { "expected $seqLen token ids, got ${tokenIds.size}" }
        lastInferenceNanos = null
        input.clear()
        for (id in tokenIds) input.putInt(id)
        input.rewind()
        output.clear()
        interpreter.run(input, output)
        // Null when the run failed; run() throws then anyway.
        lastInferenceNanos = interpreter.lastNativeInferenceDurationNanoseconds
        return FloatArray(numLabels) { output.getFloat(it * Float.SIZE_BYTES) }
    }

    override fun close() {
        if (!closed) {
            closed = true
            interpreter.close()
        }
    }

    companion object {
        const val NUM_THREADS: Int = 1
        const val USE_XNNPACK: Boolean = true

        /** The native LiteRT library's own version, or null when it cannot be asked. */
        fun runtimeVersion(): String? = try {
            TensorFlowLite.runtimeVersion()
        } catch (e: Exception) {
            null
        } catch (e: LinkageError) {
            null
        }

        /**
         * Maps [model] from [assets], creates the interpreter and checks its tensors against
         * the contract ([ModelIo.check]). Throws an [AssetException] for a file the runtime
         * rejects; anything else (an `IOException` from the asset manager, an
         * `UnsatisfiedLinkError` from the native library) propagates to the caller, which shows
         * it as an error card ([io.github.tflitelowrank.demo.core.FailureReport]).
         */
        fun load(assets: AssetManager, model: ModelEntry, manifest: Manifest): LiteRtClassifier {
            val buffer = mapAsset(assets, model.file)
            val options = Interpreter.Options()
                .setNumThreads(NUM_THREADS)
                .setUseXNNPACK(USE_XNNPACK)
            val interpreter = try {
                Interpreter(buffer, options)
            } catch (e: IllegalArgumentException) {
                throw AssetException.ModelLoadFailed(model.file, e.message ?: "not a valid .tflite flatbuffer", e)
            } catch (e: IllegalStateException) {
                throw AssetException.ModelLoadFailed(model.file, e.message ?: "the runtime rejected the model", e)
            }
            try {
                ModelIo.check(
                    model = model,
                    manifest = manifest,
                    inputs = (0 until interpreter.inputTensorCount).map { spec(interpreter.getInputTensor(it)) },
                    outputs = (0 until interpreter.outputTensorCount).map { spec(interpreter.getOutputTensor(it)) },
                )
                interpreter.allocateTensors()
            } catch (e: Throwable) {
                interpreter.close()
                throw when (e) {
                    is IllegalArgumentException, is IllegalStateException ->
                        AssetException.ModelLoadFailed(model.file, "allocating its tensors failed: ${e.message ?: e}", e)
                    else -> e
                }
            }
            return LiteRtClassifier(model.key, interpreter, manifest.seqLen, manifest.numLabels)
        }

        private fun spec(tensor: Tensor): TensorSpec =
            TensorSpec(tensor.name(), tensor.dataType().name.lowercase(), tensor.shape().toList())

        private fun mapAsset(assets: AssetManager, name: String): MappedByteBuffer {
            val descriptor = try {
                assets.openFd(name)
            } catch (e: FileNotFoundException) {
                // Also thrown for an asset stored compressed; tell both causes apart.
                val exists = try {
                    assets.open(name).close()
                    true
                } catch (_: IOException) {
                    false
                }
                if (!exists) throw AssetException.MissingFile(name, "the app assets (android_demo/app/src/main/assets)")
                throw AssetException.ModelLoadFailed(
                    name,
                    "it is stored compressed in the APK and cannot be memory-mapped; keep " +
                        "`androidResources { noCompress += \"tflite\" }` in app/build.gradle.kts",
                    e,
                )
            }
            return descriptor.use { fd ->
                FileInputStream(fd.fileDescriptor).use { stream ->
                    stream.channel.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
                }
            }
        }
    }
}
