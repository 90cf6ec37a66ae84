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
import java.io.FileInputStream
import java.io.FileNotFoundException
import java.io.IOException
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel

/**
 * A [Classifier] backed by the LiteRT `Interpreter` API: one thread, XNNPACK on, the model
 * memory-mapped from the APK's assets (never copied into the Java heap).
 *
 * Not thread-safe, like `Interpreter` itself: use one instance from one thread.
 */
class LiteRtClassifier private constructor(
    override val key: String,
    private val interpreter: Interpreter,
    private val seqLen: Int,
    numLabels: Int,
) : Classifier {
    private val input = Array(1) { IntArray(seqLen) }
    private val output = Array(1) { FloatArray(numLabels) }
    private var closed = false

    override fun classify(tokenIds: IntArray): FloatArray {
        check(!closed) { "`$key` was closed" }
        require(tokenIds.size == seqLen) { "expected $seqLen token ids, got ${tokenIds.size}" }
        tokenIds.copyInto(input[0])
        interpreter.run(input, output)
        return output[0].copyOf()
    }

    override fun close() {
        if (!closed) {
            closed = true
            interpreter.close()
        }
    }

    companion object {
        const val NUM_THREADS: Int = 1

        /**
         * Maps [model] from [assets], creates the interpreter and checks its tensors against
         * the contract ([ModelIo.check]). Throws an [AssetException] the screen can show.
         */
        fun load(assets: AssetManager, model: ModelEntry, manifest: Manifest): LiteRtClassifier {
            val buffer = mapAsset(assets, model.file)
            val options = Interpreter.Options()
                .setNumThreads(NUM_THREADS)
                .setUseXNNPACK(true)
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
                throw e
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
